# Sourced by /etc/init.d/rcS. With `ec2lab.stress=SECONDS` on the kernel command line, runs
# the guest self-check ec2lab-stress (registers, TLS and memory across preemption, system
# calls, signals, fork and exec) before anything else and prints its verdict on the console
# (EC2LAB-STRESS: PASS/FAIL). Without it: shell builtins only, no process.
read -r ec2lab_cmdline </proc/cmdline
case " $ec2lab_cmdline " in
*" ec2lab.stress="*)
	ec2lab_stress=${ec2lab_cmdline##*ec2lab.stress=}
	/usr/sbin/ec2lab-stress -t "${ec2lab_stress%% *}" >/dev/console 2>&1
	;;
esac
unset ec2lab_cmdline ec2lab_stress
