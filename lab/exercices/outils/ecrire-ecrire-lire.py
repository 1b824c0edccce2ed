#!/usr/bin/env python3
"""Écrire, écrire, lire : la rencontre de Nagle et de l'ACK retardé (fiche 5, question 10).

Le client pose dix questions. Chacune part en DEUX send() (« question », puis « N\\n »),
puis le client attend la réponse d'une ligne, et affiche combien de temps elle a pris.
Avec --nodelay, la socket a TCP_NODELAY (Nagle désactivé).

Dans le lab, le programme est lu sur l'entrée de python3 (« - ») :
    docker compose exec -T client python3 - server 9095 < lab/exercices/outils/ecrire-ecrire-lire.py
Il faut en face un serveur qui répond une ligne par ligne reçue (voir la fiche 5).
"""

import socket
import sys
import time

hote, port = sys.argv[1], int(sys.argv[2])
# Le serveur vient peut-être d'être lancé : on réessaie la connexion pendant 5 s.
for essai in range(50):
    try:
        sock = socket.create_connection((hote, port))
        break
    except ConnectionRefusedError:
        time.sleep(0.1)
else:
    sys.exit(f"personne n'écoute sur {hote}:{port}")
if "--nodelay" in sys.argv:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
reponses = sock.makefile("rb")
for i in range(1, 11):
    debut = time.monotonic()
    sock.send(b"question ")  # premier petit segment : il part tout de suite
    sock.send(b"%d\n" % i)  # second petit segment : Nagle le garde jusqu'à l'ACK du premier
    reponse = reponses.readline().decode().strip()
    duree = (time.monotonic() - debut) * 1000
    print(f"{reponse:<16} en {duree:5.1f} ms", flush=True)
sock.close()
