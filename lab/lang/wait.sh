# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/wait for students: LAB_FR and LAB_EN, the same keys (printf formats).

declare -gA LAB_EN+=(
  [wait.usage]="lab/wait HOST listening|connected PORT [SECONDS]: see lab/help wait"
  [wait.port]="'%s' is not a port number"
  [wait.seconds]="SECONDS must be a positive number, not '%s'"
  [wait.what]="wait for what? 'listening' or 'connected', not '%s'"
  [wait.none.listening]="nothing listening on port %s in %s after %s s"
  [wait.none.connected]="nothing connected on port %s in %s after %s s"
)

declare -gA LAB_FR+=(
  [wait.usage]="lab/wait HÔTE listening|connected PORT [SECONDES] : voir lab/help wait"
  [wait.port]="« %s » n'est pas un numéro de port"
  [wait.seconds]="SECONDES doit être un nombre positif, pas « %s »"
  [wait.what]="attendre quoi ? « listening » (en écoute) ou « connected » (connecté), pas « %s »"
  [wait.none.listening]="rien n'écoute sur le port %s dans %s après %s s"
  [wait.none.connected]="aucune connexion établie sur le port %s dans %s après %s s"
)
