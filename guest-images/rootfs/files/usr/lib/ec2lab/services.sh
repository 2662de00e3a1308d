# ec2lab guest: the two services of this image, for the systemctl/service shims
# (/usr/bin/systemctl) and the boot hook (/etc/ec2lab/rc.d/60-services.sh).
# Busybox sh, shell builtins wherever possible: on the PVM host every process
# start costs about a second, so pids are found by reading /proc, not with pidof.
#
#   httpd  busybox httpd, document root /var/www/html, port 80. `enable` makes it
#          start at boot (marker file in /etc/ec2lab/enabled/).
#   sshd   dropbear on port 22. Always started at boot, by ec2lab-agent (the same
#          switches as here, see guest-images/agent/src/main.rs).

SVC_ENABLED_DIR=/etc/ec2lab/enabled

# httpd.service -> httpd; a few aliases.
svc_name() {
	case ${1%.service} in
	httpd | apache2) echo httpd ;;
	sshd | ssh | dropbear) echo sshd ;;
	*) echo "${1%.service}" ;;
	esac
}

svc_known() {
	case $1 in httpd | sshd) return 0 ;; esac
	return 1
}

# Sets SVC_PIDS to the pids of the service's main process(es).
svc_pids() {
	SVC_PIDS=
	if [ "$1" = sshd ]; then
		# Only the listener (its sessions are dropbear processes too).
		if [ -r /run/dropbear.pid ]; then
			read -r _p </run/dropbear.pid
			[ -n "$_p" ] && [ -d "/proc/$_p" ] && SVC_PIDS=$_p
		fi
		return 0
	fi
	for _d in /proc/[0-9]*; do
		_c=
		{ read -r _c <"$_d/comm"; } 2>/dev/null || continue
		[ "$_c" = "$1" ] && SVC_PIDS="$SVC_PIDS${SVC_PIDS:+ }${_d#/proc/}"
	done
	return 0
}

svc_running() {
	svc_pids "$1"
	[ -n "$SVC_PIDS" ]
}

svc_start() {
	svc_running "$1" && return 0
	case $1 in
	httpd) /usr/sbin/httpd -h /var/www/html -p 80 ;;
	# argv[0] "dropbear" run in "/": no re-exec per connection (see the agent, main.rs).
	sshd) (cd / && PATH=/usr/sbin exec dropbear -E -R -s -w -p 22 -P /run/dropbear.pid 2>>/run/dropbear.log) ;;
	esac
}

svc_stop() {
	svc_pids "$1"
	[ -z "$SVC_PIDS" ] && return 0
	# shellcheck disable=SC2086 # a list of pids
	kill $SVC_PIDS
}

svc_enabled() {
	[ "$1" = sshd ] || [ -e "$SVC_ENABLED_DIR/$1" ]
}

# At boot: start every enabled service but sshd (the agent started that one).
svc_boot() {
	for _f in "$SVC_ENABLED_DIR"/*; do
		[ -e "$_f" ] || continue
		_s=${_f##*/}
		[ "$_s" = sshd ] || svc_start "$_s"
	done
}
