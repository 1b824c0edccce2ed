#!/usr/bin/env python3
"""Question 4 du TD : le serveur full-duplex, un processus par sens (fork).

Il accepte un client, puis, comme le client de la question 4, se duplique : un processus
recopie le clavier vers la socket, l'autre la socket vers l'écran. Quand le client part, il
arrête son fils, l'attend, et accepte le client suivant.

Copiez ce fichier dans work/, lancez le lab sans son serveur (CHAT_MODE=idle lab/up), puis :
    docker compose exec server python3 /work/q4_serveur.py
    docker compose exec client chat duplex server             # le client de référence
Vérifiez-le :
    lab/check q4-server -- python3 /work/q4_serveur.py
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


def ouvrir_ecoute(port):
    """Rend une socket qui écoute sur PORT (question 1)."""
    # TODO : socket, SO_REUSEADDR, bind, listen (fiche 2).
    a_ecrire("ouvrir_ecoute() : créer la socket d'écoute")


def converser(conn):
    """Un client : un processus par sens, comme dans q4_client.py."""
    # TODO : sys.stdout.flush(), pid = os.fork().
    #        Le fils : ferme la socket d'écoute (pourquoi ? fiche 4, question 3), recopie le
    #        clavier vers conn, shutdown(SHUT_WR) à la fin, os._exit(0).
    #        Le père : recopie conn vers l'écran jusqu'à b"", puis os.kill(pid, SIGTERM) et
    #        os.waitpid(pid, 0). Sans waitpid, que montre ps après trois clients ?
    #        (fiche 4, question 9)
    a_ecrire("converser() : fork(), un processus par sens")


def main():
    ecoute = ouvrir_ecoute(PORT)
    while True:
        # TODO : accept(), converser(), close() de la connexion dans le père.
        a_ecrire("main() : accepter un client")


if __name__ == "__main__":
    main()
