# Sourced by the kernel tests' UML guest scripts (PID 1): the set-up they all share.
# guest_boot: PATH; an EXIT trap that powers the guest off with $rc as linux.uml's exit status
# (the script sets rc=0 once it ran to its end); /proc, /sys, a tmpfs /run with /run/netns; the
# UML module tree over a tmpfs /lib/modules — never the host's (as lab/runners/uml-init.sh does).
rc=1
guest_finish() {
  sync
  echo "$rc" >/proc/exitcode
  poweroff -f -f
}
guest_boot() {
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  trap guest_finish EXIT
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t tmpfs tmpfs /run
  mkdir -p /run/netns
  read -r kver </proc/sys/kernel/osrelease
  mount -t tmpfs tmpfs /lib/modules
  mkdir -p "/lib/modules/$kver"
  mount -t hostfs -o "/usr/lib/uml/modules/$kver" hostfs "/lib/modules/$kver"
}
