# Sourced by /etc/init.d/rcS before it prints EC2LAB-GUEST-READY. One process: the agent
# reads the instance metadata, sets the hostname, installs ec2-user's ssh key, starts
# dropbear and returns; a #! user-data script then runs in the background, once per instance.
[ -x /usr/sbin/ec2lab-agent ] && /usr/sbin/ec2lab-agent boot
