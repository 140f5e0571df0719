#!/bin/bash
# Builds a fake NVIDIA host under DIR, as the Swift tests do (FakeHost.swift): /proc files of
# driver 535.104.05 with two GPUs, real ELF libraries with sonames, the linker cache written
# by `ldconfig -r`, nvidia-smi, firmware, and device nodes made with mknod (major 195).
# Needs root, a C compiler and ldconfig.
#
#   Tests/gpu/fake-nvidia-root.sh DIR
set -euo pipefail
root=${1:?usage: fake-nvidia-root.sh DIR}
v=535.104.05
mkdir -p "$root"/proc/driver/nvidia/gpus/0000:19:00.0 "$root"/proc/driver/nvidia/gpus/0000:3b:00.0 \
    "$root"/usr/lib/x86_64-linux-gnu "$root"/etc "$root"/usr/bin "$root"/lib/firmware/nvidia/$v "$root"/dev
printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  Sat Aug 19 01:15:15 UTC 2023\n' $v \
    > "$root"/proc/driver/nvidia/version
i=0
for bus in 0000:19:00.0 0000:3b:00.0; do
    printf 'Model: \t\t NVIDIA H200\nGPU UUID: \t GPU-00000000-0000-4000-8000-00000000000%d\nBus Location: \t %s\nDevice Minor: \t %d\n' \
        $i $bus $i > "$root"/proc/driver/nvidia/gpus/$bus/information
    i=$((i + 1))
done
printf 'Character devices:\n  1 mem\n195 nvidia\n234 nvidia-uvm\n\nBlock devices:\n  8 sd\n' > "$root"/proc/devices
echo /usr/lib/x86_64-linux-gnu > "$root"/etc/ld.so.conf
src=$(mktemp --suffix=.c)
echo 'int kujira_fake(void) { return 1; }' > "$src"
for lib in libcuda:libcuda.so.1 libnvidia-ml:libnvidia-ml.so.1; do
    cc -shared -fPIC -Wl,-soname,${lib#*:} -o "$root"/usr/lib/x86_64-linux-gnu/${lib%%:*}.so.$v "$src"
done
rm -f "$src"
ldconfig -r "$root"
printf '#!/bin/sh\necho "GPU 0: NVIDIA H200 (fake)"\n' > "$root"/usr/bin/nvidia-smi
chmod 755 "$root"/usr/bin/nvidia-smi
echo firmware > "$root"/lib/firmware/nvidia/$v/gsp_ga10x.bin
for node in nvidia0:195:0 nvidia1:195:1 nvidiactl:195:255 nvidia-uvm:234:0 nvidia-uvm-tools:234:1; do
    IFS=: read -r name major minor <<< "$node"
    [ -e "$root/dev/$name" ] || mknod -m 666 "$root/dev/$name" c "$major" "$minor"
done
