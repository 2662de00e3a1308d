# Sourced by /etc/init.d/rcS: start the services `systemctl enable` marked (httpd), so a
# web server set up by user data comes back after a reboot. No process unless enabled.
. /usr/lib/ec2lab/services.sh
svc_boot
