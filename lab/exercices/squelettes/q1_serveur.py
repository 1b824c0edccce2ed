#!/usr/bin/env python3
"""Question 1 du TD : le serveur.

Il attend un client sur le port 8080 et affiche tout ce que ce client envoie, jusqu'à ce
qu'il ferme ; puis il attend le client suivant.

Copiez ce fichier dans work/ (cp lab/exercices/squelettes/q1_serveur.py work/), lancez le
lab sans son serveur (CHAT_MODE=idle lab/up), puis :
    docker compose exec server python3 /work/q1_serveur.py    # votre serveur
    docker compose exec client chat send server               # le client de référence
Vérifiez-le :
    lab/check q1 -- python3 /work/q1_serveur.py
Fiches : 01-poignee-de-main (ce que rend recv()), 02-time-wait (SO_REUSEADDR).
"""

import socket
import sys

PORT = 8080


def a_ecrire(quoi):
    """Arrête le programme en disant ce qui reste à écrire (supprimez l'appel une fois fait)."""
    sys.exit(f"TODO (à vous) : {quoi}")


def ouvrir_ecoute(port):
    """Rend une socket TCP qui écoute sur PORT, sur toutes les adresses de la machine."""
    # TODO : socket.socket(), setsockopt(SO_REUSEADDR) AVANT bind(), bind(), listen().
    #        Pourquoi SO_REUSEADDR, et pourquoi avant bind() ? (fiche 2)
    #        socket.create_server() fait tout cela d'un coup, SO_REUSEADDR compris : écrivez
    #        d'abord chaque appel vous-même.
    a_ecrire("ouvrir_ecoute() : créer la socket d'écoute")


def recevoir(conn):
    """Affiche ce que le client envoie, jusqu'à la fin du flot (le FIN du client)."""
    # TODO : boucler sur conn.recv(4096).
    #        Que rend recv() quand le client a fermé ? Que fait votre boucle ensuite ?
    #        Un recv() rend-il une ligne ? (fiche 1, questions 10 et 11) Que devient « ç »,
    #        deux octets en UTF-8, s'il arrive coupé entre deux recv() et que vous décodez
    #        chaque morceau ? Et print(morceau), que rajoute-t-il ?
    #        Indice : sys.stdout.buffer.write() écrit des octets tels quels ; pensez à
    #        sys.stdout.flush() (sous « docker compose exec -T », la sortie est tamponnée).
    a_ecrire("recevoir() : lire la connexion jusqu'à la fin du flot")


def main():
    ecoute = ouvrir_ecoute(PORT)
    print(f"en écoute sur le port {PORT}", file=sys.stderr)
    while True:
        # TODO : accept() rend (connexion, adresse du client) ; recevoir(connexion), puis
        #        fermer la connexion et revenir à accept() pour le client suivant.
        a_ecrire("main() : accepter un client")


if __name__ == "__main__":
    main()
