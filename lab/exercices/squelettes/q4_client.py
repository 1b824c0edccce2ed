#!/usr/bin/env python3
"""Question 4 du TD : le client full-duplex, un processus par sens (fork).

Après la connexion, le processus se duplique : l'un recopie le clavier vers la socket,
l'autre la socket vers l'écran. Chacun peut taper quand il veut.

Copiez ce fichier dans work/, lancez le lab (lab/up : son serveur est chat duplex), puis :
    docker compose exec client python3 /work/q4_client.py server
    docker attach "$(docker compose ps -q server)"     # pour répondre (Ctrl-P Ctrl-Q)
Vérifiez-le :
    lab/check q4-client -- python3 /work/q4_client.py
Fiche : 04-duplex-fork (demi-fermeture, zombies, tampons et fork).
"""

import os
import signal
import socket
import sys

PORT = 8080


def a_ecrire(quoi):
    """Arrête le programme en disant ce qui reste à écrire (supprimez l'appel une fois fait)."""
    sys.exit(f"TODO (à vous) : {quoi}")


def clavier_vers_socket(sock):
    """Dans le fils : recopie l'entrée standard vers la socket, jusqu'à Ctrl-D."""
    # TODO : lire l'entrée (sys.stdin.buffer.readline() garde le « \n »), sendall().
    # TODO : à la fin de l'entrée : shutdown(socket.SHUT_WR), pas close(). Pourquoi ?
    #        Qui d'autre détient la socket ? (fiche 4, questions 3 et 5)
    a_ecrire("clavier_vers_socket()")


def socket_vers_ecran(sock):
    """Dans le père : recopie la socket vers l'écran, jusqu'à la fin du flot."""
    # TODO : recv() jusqu'à b"", sys.stdout.buffer.write() puis sys.stdout.flush().
    a_ecrire("socket_vers_ecran()")


def main():
    hote = sys.argv[1] if len(sys.argv) > 1 else "server"
    # TODO : se connecter (question 2).
    # TODO : vider les tampons AVANT fork() : sys.stdout.flush(). Que se passe-t-il sinon ?
    #        (fiche 4, question 11)
    # TODO : pid = os.fork()
    #        - dans le fils (pid == 0) : clavier_vers_socket(), puis os._exit(0).
    #          Pourquoi os._exit() et pas sys.exit() ? (fiche 4, question 13)
    #        - dans le père : socket_vers_ecran(), puis arrêter le fils, bloqué sur le
    #          clavier (os.kill(pid, signal.SIGTERM)), et l'attendre (os.waitpid) : sinon ?
    a_ecrire(f"main() : se connecter à {hote}, fork(), un processus par sens")


if __name__ == "__main__":
    main()
