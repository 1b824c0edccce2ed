# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/netem for students: LAB_FR and LAB_EN, the same keys (printf formats).

declare -gA LAB_EN=(
  [set.kernel]="%s: egress of %s (what %s sends): %s (engine: kernel netem)"
  [set.user]="%s: egress of %s (what %s sends): %s (engine: userspace chatlab netem in %s, %s)"
  [why.nonetem]="this kernel has no sch_netem"
  [cleared]="%s: egress of %s is a plain link again"
  [show.kernel]="%s %s egress: %s (engine: kernel netem)"
  [show.user]="%s %s egress: %s (engine: userspace chatlab netem, pid %s, %s)"
  [show.dead]="%s %s egress: no impairment: the userspace engine is NOT running (see %s in %s); packets pass unimpaired"
  [show.tc]="%s %s egress: set by hand with tc:"
  [show.none]="%s %s egress: no impairment"
)

declare -gA LAB_FR=(
  [set.kernel]="%s : sortie de %s (ce que %s envoie) : %s (moteur : netem du noyau)"
  [set.user]="%s : sortie de %s (ce que %s envoie) : %s (moteur : chatlab netem en espace utilisateur dans %s, %s)"
  [why.nonetem]="ce noyau n'a pas sch_netem"
  [cleared]="%s : la sortie de %s est de nouveau un lien sans perturbation"
  [show.kernel]="%s %s, en sortie : %s (moteur : netem du noyau)"
  [show.user]="%s %s, en sortie : %s (moteur : chatlab netem en espace utilisateur, pid %s, %s)"
  [show.dead]="%s %s, en sortie : aucune perturbation : le moteur en espace utilisateur NE tourne PAS (voir %s dans %s) ; les paquets passent sans retard"
  [show.tc]="%s %s, en sortie : réglé à la main avec tc :"
  [show.none]="%s %s, en sortie : lien sans perturbation"
)
