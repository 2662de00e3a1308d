#!/usr/bin/env bash
# The main job: an EC2 session on real KVM guests, start to finish. Launches the
# quick-start AMI (built by guest-images/build.sh), waits for it to run, shows its console,
# stops and starts it (its disk survives), makes an AMI of it, and cleans everything up.
set -euo pipefail
cd "$(dirname "$0")/.."

EC2LAB=${EC2LAB:-target/release/ec2lab}
[ -x "$EC2LAB" ] || cargo build --release
export EC2LAB_STATE_DIR=${EC2LAB_STATE_DIR:-/var/lib/ec2lab}

step() { printf '\n== %s\n' "$*"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
t0=$(date +%s.%N)
since() { python3 -c "print(f'{$(date +%s.%N) - $t0:.1f} s')"; }

step "describe-images (the quick-start AMI is registered on first use)"
ami=$("$EC2LAB" describe-images --filters Name=name,Values=ec2lab-linux | field "d['Images'][0]['ImageId']")
echo "$ami"

step "run-instances --image-id $ami --instance-type t2.micro"
t0=$(date +%s.%N)
id=$("$EC2LAB" run-instances --image-id "$ami" --instance-type t2.micro \
  --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=demo}]' | field "d['Instances'][0]['InstanceId']")
echo "$id (pending)"
cleanup() { "$EC2LAB" terminate-instances --instance-ids "$id" >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "wait instance-running"
"$EC2LAB" wait instance-running --instance-ids "$id" --timeout-secs 600
echo "running after $(since)"
"$EC2LAB" describe-instances --instance-ids "$id" --output table | head -20

step "get-console-output (waiting for the guest's ready marker)"
until "$EC2LAB" get-console-output --instance-id "$id" --output text | grep -q EC2LAB-GUEST-READY; do sleep 1; done
echo "ready after $(since)"
"$EC2LAB" get-console-output --instance-id "$id" --output text | tail -5

step "stop-instances, wait instance-stopped"
"$EC2LAB" stop-instances --instance-ids "$id" --output text
"$EC2LAB" wait instance-stopped --instance-ids "$id" --timeout-secs 600

step "create-image from the stopped instance"
img=$("$EC2LAB" create-image --instance-id "$id" --name "demo-$(date +%s)" | field "d['ImageId']")
echo "$img"

step "run-instances from the new AMI: its root disk is a copy of the first instance's"
t0=$(date +%s.%N)
id2=$("$EC2LAB" run-instances --image-id "$img" --instance-type t2.micro | field "d['Instances'][0]['InstanceId']")
trap 'cleanup; "$EC2LAB" terminate-instances --instance-ids "$id2" >/dev/null 2>&1 || true' EXIT
"$EC2LAB" wait instance-running --instance-ids "$id2" --timeout-secs 600
echo "$id2 running after $(since)"
"$EC2LAB" terminate-instances --instance-ids "$id2" --output text

step "start-instances, wait instance-running"
t0=$(date +%s.%N)
"$EC2LAB" start-instances --instance-ids "$id" --output text
"$EC2LAB" wait instance-running --instance-ids "$id" --timeout-secs 600
echo "running again after $(since)"

step "terminate-instances, deregister-image"
"$EC2LAB" terminate-instances --instance-ids "$id" --output text
"$EC2LAB" wait instance-terminated --instance-ids "$id" --timeout-secs 600
"$EC2LAB" deregister-image --image-id "$img"
trap - EXIT
echo "done"
