# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/up for students: LAB_FR and LAB_EN, the same keys (printf formats).

declare -gA LAB_EN=(
  [pulling]="pulling %s (to build from docker/Dockerfile)"
  [why.missing]="the image %s is missing"
  [build.registry]="building %s from docker/Dockerfile (%s; Docker Hub answers)"
  [build.offline]="building %s the offline way, lab/build-offline (%s; %s)"
  [no.hub]="Docker Hub does not answer"
  [what.duplex]="Q4, chat duplex --listen -k"
  [what.alternate]="Q3, chat alternate --listen -k"
  [what.recv]="Q1, chat recv"
  [what.idle]="no chat server: port 8080 is free for your own"
  [next]="The lab is up: server (%s.10, %s), client (%s.11), client2 (%s.12).\nNext, in another terminal:\n  %s exec client %s\nType as the server:   docker attach \$(%s ps -q server)   (detach: Ctrl-P Ctrl-Q)\nWatch the wire:       lab/capture server          Stop the lab: lab/down"
)

declare -gA LAB_FR=(
  [pulling]="téléchargement de %s (pour construire depuis docker/Dockerfile)"
  [why.missing]="l'image %s manque"
  [build.registry]="construction de %s depuis docker/Dockerfile (%s ; Docker Hub répond)"
  [build.offline]="construction de %s sans registre, lab/build-offline (%s ; %s)"
  [no.hub]="Docker Hub ne répond pas"
  [what.duplex]="Q4, chat duplex --listen -k"
  [what.alternate]="Q3, chat alternate --listen -k"
  [what.recv]="Q1, chat recv"
  [what.idle]="pas de serveur chat : le port 8080 est libre pour le vôtre"
  [next]="Le lab tourne : server (%s.10, %s), client (%s.11), client2 (%s.12).\nEnsuite, dans un autre terminal :\n  %s exec client %s\nTaper côté serveur :  docker attach \$(%s ps -q server)   (se détacher : Ctrl-P Ctrl-Q)\nVoir le fil :         lab/capture server          Arrêter le lab : lab/down"
)
