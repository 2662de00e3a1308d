# Secondary network interfaces: ec2lab passes ec2lab.ethN=ADDRESS/NETMASK on the kernel command line (the kernel's ip= configures only eth0); one ifconfig per interface, the rest is shell builtins.
read -r c </proc/cmdline; for w in $c; do case $w in ec2lab.eth[1-9]=*) n=${w%%=*}; a=${w#*=}; ifconfig "${n#ec2lab.}" "${a%/*}" netmask "${a#*/}" up ;; esac; done
