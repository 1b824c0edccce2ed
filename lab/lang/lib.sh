# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/lib.sh's helpers for students (what every lab script may say through them:
# a host not running, a bad --port, a missing tool): LAB_FR and LAB_EN, the same keys (printf
# formats). lab/lib.sh loads them first; a script's own family (lab_strings) adds to them.

declare -gA LAB_EN+=(
  [lib.compose]="neither 'docker compose' nor 'docker-compose' is installed: install Docker with its compose plugin"
  [lib.arch]="no static build for this machine's architecture (%s): the lab runs on x86_64 and aarch64"
  [lib.target]="installing the Rust target %s (rustup target add %s, once)"
  [lib.target.failed]="rustup could not install the target %s (is the network reachable?)"
  [lib.debootstrap]="installing debootstrap (apt-get install debootstrap, once: it makes the lab's Debian base)"
  [lib.debootstrap.failed]="apt-get could not install debootstrap (its last lines above): install it yourself, then run this again"
  [lib.debootstrap.missing]="debootstrap is not installed: run 'sudo apt-get install debootstrap' (Debian, Ubuntu), then this again"
  [lib.host]="unknown host '%s': the lab's hosts are %s"
  [lib.not.running]="%s is not running: start the lab first (docker compose up -d)"
  [lib.exec]="%s: docker exec failed: %s"
  [lib.iface]="%s has no interface on %s.0/24: is LAB_NET the one the lab was started with?"
  [lib.port.used]="port %s is already in use in the server host: choose another one with --port"
  [lib.port]="--port needs a port number other than 8080 (the lab's server), e.g. %s"
  [lib.name]="--name needs a file name (letters, digits, . _ -)"
  [lib.lang]="--lang takes fr or en"
  [lib.lang.not]="--lang takes fr or en (not '%s')"
  [lib.capture]="the capture did not start: %s"
)

declare -gA LAB_FR+=(
  [lib.compose]="ni « docker compose » ni « docker-compose » n'est installé : installez Docker avec son extension compose"
  [lib.arch]="pas de compilation statique pour l'architecture de cette machine (%s) : le lab tourne sur x86_64 et aarch64"
  [lib.target]="installation de la cible Rust %s (rustup target add %s, une seule fois)"
  [lib.target.failed]="rustup n'a pas pu installer la cible %s (le réseau est-il accessible ?)"
  [lib.debootstrap]="installation de debootstrap (apt-get install debootstrap, une seule fois : il fabrique la base Debian du lab)"
  [lib.debootstrap.failed]="apt-get n'a pas pu installer debootstrap (ses dernières lignes ci-dessus) : installez-le vous-même, puis relancez cette commande"
  [lib.debootstrap.missing]="debootstrap n'est pas installé : lancez « sudo apt-get install debootstrap » (Debian, Ubuntu), puis relancez cette commande"
  [lib.host]="hôte inconnu « %s » : les hôtes du lab sont %s"
  [lib.not.running]="%s ne tourne pas : démarrez d'abord le lab (docker compose up -d)"
  [lib.exec]="%s : docker exec a échoué : %s"
  [lib.iface]="%s n'a pas d'interface sur %s.0/24 : LAB_NET est-il celui avec lequel le lab a été démarré ?"
  [lib.port.used]="le port %s est déjà utilisé dans l'hôte server : choisissez-en un autre avec --port"
  [lib.port]="--port attend un numéro de port autre que 8080 (celui du serveur du lab), par exemple %s"
  [lib.name]="--name attend un nom de fichier (lettres, chiffres, . _ -)"
  [lib.lang]="--lang attend fr ou en"
  [lib.lang.not]="--lang attend fr ou en (pas « %s »)"
  [lib.capture]="la capture n'a pas démarré : %s"
)
