#!/usr/bin/env python3
"""Question 3 du TD : le client du chat alterné.

Chacun son tour : le client envoie une ligne tapée, attend la ligne du serveur, l'affiche,
et recommence ; il s'arrête à la fin de son entrée (Ctrl-D) ou quand le serveur ferme.

Copiez ce fichier dans work/, lancez le lab avec le serveur alterné de référence
(CHAT_MODE=alternate lab/up), puis :
    docker compose exec client python3 /work/q3_client.py server
    docker attach "$(docker compose ps -q server)"     # pour répondre (Ctrl-P Ctrl-Q)
Vérifiez-le :
    lab/check q3-client -- python3 /work/q3_client.py
Fiche : 03-alternance (l'interblocage).
"""

import socket
import sys

PORT = 8080


def a_ecrire(quoi):
    """Arrête le programme en disant ce qui reste à écrire (supprimez l'appel une fois fait)."""
    sys.exit(f"TODO (à vous) : {quoi}")


def lire_ligne(flux):
    """Rend la ligne suivante du serveur (avec son « \\n »), ou b"" s'il a fermé."""
    # TODO : un recv() peut rendre une demi-ligne, ou deux lignes (fiche 1) : lisez jusqu'au
    #        « \n ». Le plus simple : flux = sock.makefile("rb") UNE fois, dans main(),
    #        avant la boucle, puis flux.readline() ici. (Un nouveau makefile() à chaque tour
    #        perdrait ce que le précédent avait lu d'avance.)
    a_ecrire("lire_ligne() : lire une ligne entière de la socket")


def main():
    hote = sys.argv[1] if len(sys.argv) > 1 else "server"
    # TODO : se connecter (comme à la question 2).
    # TODO : la boucle, dans cet ordre : lire le clavier, envoyer, lire_ligne(), afficher.
    #        Le serveur de référence attend une ligne complète, « \n » compris : que se
    #        passe-t-il si vous envoyez ce que rend input() ? À quoi cela ressemble-t-il ?
    #        (fiche 3, question 11)
    a_ecrire(f"main() : se connecter à {hote} et alterner")


if __name__ == "__main__":
    main()
