# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/ladder for students: LAB_FR and LAB_EN, the same keys (printf formats). The
# ladder itself, its legend and its own errors are chatlab ladder's (--lang, the same rule).

declare -gA LAB_EN+=(
  [ladder.svg]="--svg needs a file"
  [ladder.value]="%s needs a value"
  [ladder.option]="unknown option '%s': see lab/help ladder"
  [ladder.which]="which captures? e.g. lab/ladder captures/05-ladder-*.pcap (see lab/help ladder)"
  [ladder.no.file]="cannot read '%s': no such file"
  [ladder.unreadable]="cannot read '%s': not a readable file"
  [ladder.twice]="two captures are named '%s': the file name says which host took it, rename one"
  [ladder.no.dir]="cannot write '%s': no writable directory %s"
  [ladder.copy.in]="cannot copy '%s' into the server host"
  [ladder.copy.out]="cannot copy the SVG out to '%s'"
  [ladder.saved]="SVG saved to %s: open it in a browser (or rsvg-convert -o ladder.png %s)"
)

declare -gA LAB_FR+=(
  [ladder.svg]="--svg attend un fichier"
  [ladder.value]="%s attend une valeur"
  [ladder.option]="option inconnue « %s » : voir lab/help ladder"
  [ladder.which]="quelles captures ? par exemple lab/ladder captures/05-ladder-*.pcap (voir lab/help ladder)"
  [ladder.no.file]="impossible de lire « %s » : ce fichier n'existe pas"
  [ladder.unreadable]="impossible de lire « %s » : ce n'est pas un fichier lisible"
  [ladder.twice]="deux captures s'appellent « %s » : le nom du fichier dit quel hôte l'a prise, renommez-en une"
  [ladder.no.dir]="impossible d'écrire « %s » : le dossier %s n'existe pas ou n'est pas accessible en écriture"
  [ladder.copy.in]="impossible de copier « %s » dans l'hôte server"
  [ladder.copy.out]="impossible de copier le SVG vers « %s »"
  [ladder.saved]="SVG enregistré dans %s : ouvrez-le dans un navigateur (ou rsvg-convert -o ladder.png %s)"
)
