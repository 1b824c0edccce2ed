# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/view for students: LAB_FR and LAB_EN, the same keys (printf formats). The
# page itself speaks the browser's language.

declare -gA LAB_EN+=(
  [view.web.port]="--web-port needs a port number, e.g. 8443"
  [view.port]="--port needs a port number, e.g. 8088"
  [view.args]="unknown argument '%s': lab/view [--port PORT] [--terminals [--web-port PORT]]"
  [view.running]="a view of this lab is already running (container %s): stop it first (docker rm -f %s)"
  [view.network.left]="the network %s of an earlier view is left: remove it first (docker network rm %s)"
  [view.network]="could not create the view's network %s"
  [view.port.taken]="port %s is taken on this machine: lab/view --port ANOTHER"
  [view.not.started]="the view's server did not start: %s"
  [view.open]="the view of %s: open http://127.0.0.1:%s/ (Ctrl-C stops it)"
  [view.three]="--terminals needs the lab's three hosts running (lab/up)"
  [view.class.build]="the class's images could not be built (lab/class build says why)"
  [view.class.web]="--terminals needs the class's web server: apt-get install musl-tools, then lab/class build"
  [view.agent]="the lab's agent did not start (port %s taken? lab/view --terminals --web-port ANOTHER)"
  [view.web]="the lab's web server did not start"
  [view.web.stopped]="the lab's web server stopped: %s"
  [view.web.link]="the lab's web server wrote no link"
  [view.tab]="your lab in a browser tab (terminals, files, check, this view), at this link (yours: keep it to yourself; a certificate made for 127.0.0.1, SHA-256 %s):"
  [view.fingerprint]="in docker logs %s"
  [view.stopped]="the view's server stopped: %s"
)

declare -gA LAB_FR+=(
  [view.web.port]="--web-port attend un numéro de port, par exemple 8443"
  [view.port]="--port attend un numéro de port, par exemple 8088"
  [view.args]="argument inconnu « %s » : lab/view [--port PORT] [--terminals [--web-port PORT]]"
  [view.running]="une vue de ce lab tourne déjà (conteneur %s) : arrêtez-la d'abord (docker rm -f %s)"
  [view.network.left]="le réseau %s d'une vue précédente est resté : supprimez-le d'abord (docker network rm %s)"
  [view.network]="impossible de créer le réseau %s de la vue"
  [view.port.taken]="le port %s est déjà pris sur cette machine : lab/view --port AUTRE"
  [view.not.started]="le serveur de la vue n'a pas démarré : %s"
  [view.open]="la vue de %s : ouvrez http://127.0.0.1:%s/ (Ctrl-C l'arrête)"
  [view.three]="--terminals a besoin des trois hôtes du lab en marche (lab/up)"
  [view.class.build]="les images de la classe n'ont pas pu être construites (lab/class build dit pourquoi)"
  [view.class.web]="--terminals a besoin du serveur web de la classe : apt-get install musl-tools, puis lab/class build"
  [view.agent]="l'agent du lab n'a pas démarré (port %s déjà pris ? lab/view --terminals --web-port AUTRE)"
  [view.web]="le serveur web du lab n'a pas démarré"
  [view.web.stopped]="le serveur web du lab s'est arrêté : %s"
  [view.web.link]="le serveur web du lab n'a écrit aucun lien"
  [view.tab]="votre lab dans un onglet du navigateur (terminaux, fichiers, vérification, cette vue), à ce lien (le vôtre : gardez-le pour vous ; un certificat fait pour 127.0.0.1, SHA-256 %s) :"
  [view.fingerprint]="dans docker logs %s"
  [view.stopped]="le serveur de la vue s'est arrêté : %s"
)
