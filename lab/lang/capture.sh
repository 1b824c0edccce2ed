# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/capture's summary for students: LAB_FR and LAB_EN, the same keys (printf
# formats). Its line « capturing on … » is not here: scripts wait for it.

declare -gA LAB_EN=(
  [kernel]="%s is impaired by the kernel's netem, which records nothing: lab/ladder will draw its departures as captured, AFTER the delay (for the true departures: LAB_NETEM_ENGINE=userspace lab/netem %s …)"
  [saved]="%s%s packets, %s bytes of TCP data; saved to %s (%s bytes): open it in Wireshark, or lab/capture --read %s"
  [record]="%s%s's netem record (when each packet entered the impairment) saved to captures/%s"
  [ladder]="the ladder of this experiment: lab/ladder captures/%s-*.pcap"
)

declare -gA LAB_FR=(
  [kernel]="%s est ralenti par le netem du noyau, qui ne note rien : lab/ladder dessinera ses départs tels que capturés, APRÈS le retard (pour les vrais départs : LAB_NETEM_ENGINE=userspace lab/netem %s …)"
  [saved]="%s%s paquets, %s octets de données TCP ; enregistrée dans %s (%s octets) : ouvrez-la dans Wireshark, ou lab/capture --read %s"
  [record]="%sla trace du netem de %s (l'entrée de chaque paquet dans le retard) enregistrée dans captures/%s"
  [ladder]="l'échelle de cette expérience : lab/ladder captures/%s-*.pcap --lang fr"
)
