#!/usr/bin/env python3
"""Question 2 du TD : le client.

Il se connecte au serveur (port 8080) et lui envoie chaque ligne tapée au clavier ; à la fin
de l'entrée (Ctrl-D), il ferme sa moitié de la connexion et attend que le serveur ferme.

Copiez ce fichier dans work/, lancez le lab avec le serveur de la question 1
(CHAT_MODE=recv lab/up), puis :
    docker compose exec client python3 /work/q2_client.py server
    docker compose logs -f server        # ce que le serveur de référence a reçu
Vérifiez-le :
    lab/check q2 -- python3 /work/q2_client.py
Fiche : 01-poignee-de-main (un segment par ligne, le FIN).
"""

import socket
import sys

PORT = 8080


def a_ecrire(quoi):
    """Arrête le programme en disant ce qui reste à écrire (supprimez l'appel une fois fait)."""
    sys.exit(f"TODO (à vous) : {quoi}")


def connecter(hote, port):
    """Rend une socket TCP connectée à HOTE:PORT."""
    # TODO : socket.create_connection((hote, port)), ou socket.socket() puis connect().
    #        Quels segments partent sur le fil pendant connect() ? (fiche 1, question 1)
    a_ecrire("connecter() : se connecter au serveur")


def envoyer_lignes(sock):
    """Envoie chaque ligne de l'entrée standard, jusqu'à sa fin (Ctrl-D)."""
    # TODO : lire une ligne, l'envoyer (sendall), recommencer.
    #        input() enlève le « \n » : que reçoit le serveur si vous ne le remettez pas ?
    #        À Ctrl-D, input() lève EOFError : votre client s'arrête-t-il proprement ?
    #        Indice : sys.stdin.buffer.readline() garde le « \n » et rend b"" à la fin.
    a_ecrire("envoyer_lignes() : envoyer chaque ligne tapée")


def main():
    hote = sys.argv[1] if len(sys.argv) > 1 else "server"
    sock = connecter(hote, PORT)
    envoyer_lignes(sock)
    # TODO : la fin de l'entrée : shutdown(socket.SHUT_WR) envoie le FIN, puis attendre que
    #        le serveur ferme à son tour (recv() rend b"") avant close().
    #        Pourquoi attendre, plutôt que close() tout de suite ? Le FIN du serveur vous dit
    #        qu'il a lu tout ce que vous avez envoyé, jusqu'à votre FIN. Et si le serveur
    #        écrit encore après votre close(), que répond votre noyau ? (un RST : la
    #        connexion est alors rompue, pas fermée)
    a_ecrire("main() : fermer la connexion")


if __name__ == "__main__":
    main()
