#!/usr/bin/env python3
"""Question 3 du TD : le serveur du chat alterné.

Chacun son tour : le serveur attend la ligne du client, l'affiche, envoie une ligne tapée à
son clavier, et recommence ; quand le client ferme, il attend le client suivant.

Copiez ce fichier dans work/, lancez le lab sans son serveur (CHAT_MODE=idle lab/up), puis :
    docker compose exec server python3 /work/q3_serveur.py
    docker compose exec client chat alternate server          # le client de référence
Vérifiez-le :
    lab/check q3-server -- python3 /work/q3_serveur.py
Fiche : 03-alternance (l'interblocage).
"""

import socket
import sys

PORT = 8080


def a_ecrire(quoi):
    """Arrête le programme en disant ce qui reste à écrire (supprimez l'appel une fois fait)."""
    sys.exit(f"TODO (à vous) : {quoi}")


def ouvrir_ecoute(port):
    """Rend une socket qui écoute sur PORT (comme à la question 1)."""
    # TODO : socket, SO_REUSEADDR, bind, listen (fiche 2).
    a_ecrire("ouvrir_ecoute() : créer la socket d'écoute")


def converser(conn):
    """Les tours d'un client : lire sa ligne, l'afficher, répondre ; jusqu'à sa fin."""
    # TODO : avant la boucle, une fois : flux = conn.makefile("rb"). Puis, à chaque tour,
    #        lire une ligne ENTIÈRE du client (flux.readline()), l'afficher (et
    #        sys.stdout.flush()), lire une ligne au clavier, l'envoyer AVEC son « \n ».
    #        Pourquoi pas conn.makefile("rb").readline() à chaque tour ? Un lecteur lit
    #        d'avance dans son tampon : si le client a envoyé deux lignes d'un coup, que
    #        devient la seconde quand ce lecteur est jeté ? (fiche 3, question 12)
    #        Qui doit parler en premier ? Que se passe-t-il si les deux commencent par
    #        attendre ? (fiche 3, questions 5 à 10)
    a_ecrire("converser() : les tours de parole")


def main():
    ecoute = ouvrir_ecoute(PORT)
    while True:
        # TODO : accept(), converser(), close(), et le client suivant.
        a_ecrire("main() : accepter un client")


if __name__ == "__main__":
    main()
