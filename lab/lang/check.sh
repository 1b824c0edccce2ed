# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/check for students (and lab/check --class's for the teacher): LAB_FR and
# LAB_EN, the same keys (printf formats). The verdicts and the grid are the checker's own
# (chatlab check, chatlab check-report: --lang, the same rule).

declare -gA LAB_EN+=(
  [check.docker]="docker is not installed"
  [check.image]="the lab image %s is missing: build it with 'docker compose build' (or lab/build-offline without a registry)"
  [check.which]="which question? lab/check ROLE -- COMMAND (see lab/help check)"
  [check.role]="unknown role '%s': one of %s"
  [check.lang]="--lang needs fr or en"
  [check.args]="unknown argument '%s': the program comes after --, e.g. lab/check %s -- python3 /work/prog.py"
  [check.no.program]="no program: lab/check %s -- COMMAND (e.g. python3 /work/prog.py)"
  [check.cut]="the check was cut off (over %s s, or over its memory limit)"
  [check.no.run]="the check could not run in the lab image (docker run: status %s)"
  [check.class.dir]="--class needs a folder: lab/check --class DIR"
  [check.jobs]="--jobs needs a positive number"
  [check.class.args]="unknown argument '%s': see lab/help check"
  [check.no.dir]="no folder %s"
  [check.odd]="skipping the folder %s: its name holds control characters; rename it (letters, digits, spaces, - _ .)"
  [check.no.students]="no student folders in %s: one folder per student, each with q1.py, q2.py…"
  [check.checking]="checking %s students, %s checks at a time"
  [check.no.file]="[%s/%s] %s %s: no file"
  [check.report]="the report could not be written in %s"
  [check.done]="checked %s students in %s s: %s/report.csv, %s/report.html"
)

declare -gA LAB_FR+=(
  [check.docker]="docker n'est pas installé : installez Docker"
  [check.image]="l'image du lab %s manque : construisez-la avec « docker compose build » (ou lab/build-offline sans registre)"
  [check.which]="quelle question ? lab/check ROLE -- COMMANDE (voir lab/help check)"
  [check.role]="rôle inconnu « %s » : l'un de %s"
  [check.lang]="--lang attend fr ou en"
  [check.args]="argument inconnu « %s » : le programme vient après --, par exemple lab/check %s -- python3 /work/prog.py"
  [check.no.program]="aucun programme : lab/check %s -- COMMANDE (par exemple python3 /work/prog.py)"
  [check.cut]="la vérification a été interrompue (plus de %s s, ou au-delà de sa limite de mémoire)"
  [check.no.run]="la vérification n'a pas pu tourner dans l'image du lab (docker run : code %s)"
  [check.class.dir]="--class attend un dossier : lab/check --class DOSSIER"
  [check.jobs]="--jobs attend un nombre positif"
  [check.class.args]="argument inconnu « %s » : voir lab/help check"
  [check.no.dir]="le dossier %s n'existe pas"
  [check.odd]="dossier %s ignoré : son nom contient des caractères de contrôle ; renommez-le (lettres, chiffres, espaces, - _ .)"
  [check.no.students]="aucun dossier d'étudiant dans %s : un dossier par étudiant, chacun avec q1.py, q2.py…"
  [check.checking]="vérification de %s étudiants, %s à la fois"
  [check.no.file]="[%s/%s] %s %s : pas de fichier"
  [check.report]="le rapport n'a pas pu être écrit dans %s"
  [check.done]="%s étudiants vérifiés en %s s : %s/report.csv, %s/report.html"
)
