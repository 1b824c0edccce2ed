# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/help for students: LAB_FR and LAB_EN, the same keys (printf formats). The
# scripts' summaries and usages it shows are their own comments, in English.

declare -gA LAB_EN+=(
  [help.option]="unknown option '%s': lab/help [SCRIPT]"
  [help.one]="one script at a time: lab/help SCRIPT"
  [help.none]="no lab script named '%s': see lab/help"
  [help.list]="The lab scripts (run from the repository root; lab/help SCRIPT for details):"
)

declare -gA LAB_FR+=(
  [help.option]="option inconnue « %s » : lab/help [SCRIPT]"
  [help.one]="un script à la fois : lab/help SCRIPT"
  [help.none]="aucun script du lab ne s'appelle « %s » : voir lab/help"
  [help.list]="Les scripts du lab (à lancer depuis la racine du dépôt ; lab/help SCRIPT pour le détail) :"
)
