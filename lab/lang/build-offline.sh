# shellcheck shell=bash disable=SC2034 # the tables are read by lab_t (lab/lib.sh)
# The words of lab/build-offline for students: LAB_FR and LAB_EN, the same keys (printf
# formats). The tools' own output (cargo, debootstrap, docker) is theirs.

declare -gA LAB_EN+=(
  [build.arch.value]="--arch needs a value: x86_64 or aarch64"
  [build.args]="unknown argument '%s'"
  [build.arch]="no build for the architecture '%s': x86_64 or aarch64"
  [build.docker]="docker is not installed"
  [build.daemon]="cannot talk to the Docker daemon (is it running? are you in the docker group?)"
  [build.binaries]="building the static binaries (cargo, %s)"
  [build.cargo]="cargo build failed (rustup installs the toolchain named in rust-toolchain.toml)"
  [build.foreign]="this machine cannot run %s programs: register qemu-user-static with binfmt_misc (flag F), or build on a %s machine"
  [build.root]="debootstrap needs root: run lab/build-offline as root once (later runs reuse %s)"
  [build.base]="making %s with debootstrap from %s (a minute or two, once)"
  [build.mirror]="its default mirror"
  [build.debootstrap]="debootstrap failed (log above)"
  [build.import]="docker import of the base failed"
  [build.reuse]="reusing %s (lab/build-offline --refresh-base makes it again)"
  [build.image]="building %s from docker/Dockerfile.offline"
  [build.failed]="docker build of %s failed (log above)"
  [build.ready]="%s is ready (%s MB): docker compose up will use it"
  [build.class]="--class builds the class's images for this machine's architecture only (no --arch)"
)

declare -gA LAB_FR+=(
  [build.arch.value]="--arch attend une valeur : x86_64 ou aarch64"
  [build.args]="argument inconnu « %s »"
  [build.arch]="pas de construction pour l'architecture « %s » : x86_64 ou aarch64"
  [build.docker]="docker n'est pas installé : installez Docker"
  [build.daemon]="impossible de joindre le démon Docker (est-il lancé ? êtes-vous dans le groupe docker ?)"
  [build.binaries]="compilation des binaires statiques (cargo, %s)"
  [build.cargo]="la compilation cargo a échoué (rustup installe la chaîne d'outils nommée dans rust-toolchain.toml)"
  [build.foreign]="cette machine ne peut pas exécuter de programmes %s : enregistrez qemu-user-static auprès de binfmt_misc (drapeau F), ou construisez sur une machine %s"
  [build.root]="debootstrap a besoin de root : lancez lab/build-offline une fois en root (les fois suivantes réutilisent %s)"
  [build.base]="fabrication de %s avec debootstrap depuis %s (une minute ou deux, une seule fois)"
  [build.mirror]="son miroir par défaut"
  [build.debootstrap]="debootstrap a échoué (son journal ci-dessus)"
  [build.import]="docker import de la base a échoué"
  [build.reuse]="%s est réutilisée (lab/build-offline --refresh-base la refait)"
  [build.image]="construction de %s depuis docker/Dockerfile.offline"
  [build.failed]="docker build de %s a échoué (son journal ci-dessus)"
  [build.ready]="%s est prête (%s Mo) : docker compose up l'utilisera"
  [build.class]="--class ne construit les images de la classe que pour l'architecture de cette machine (sans --arch)"
)
