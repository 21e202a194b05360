# Boot selection between the two root slots, with RAUC's boot counter (its "uboot" backend).
# RAUC writes BOOT_ORDER and BOOT_<slot>_LEFT with fw_setenv into rauc.env on the boot partition
# (/etc/fw_env.config); this script reads them, takes one try from the slot it boots, writes them
# back, and boots that slot's kernel. A slot whose tries are gone (never confirmed by
# `rauc status mark-good`, i.e. `appliance update check`) is passed over: the other one boots.
# Same script on the Pi (mmc) and in QEMU virt (virtio): devtype/devnum come from distro boot, and the
# kernel finds its root by the slot's partition UUID (disk identifier + number), whatever the disk is
# called. The card: 1 boot (FAT) · 2 root A · 3 root B · 4 data (image/build.py).
# Compiled by: mkimage -A arm64 -T script -C none -d boot.cmd boot.scr (ansible/roles/update)
setenv BOOT_ORDER
setenv BOOT_A_LEFT
setenv BOOT_B_LEFT
if fatload ${devtype} ${devnum}:1 ${scriptaddr} rauc.env; then
  env import -c ${scriptaddr} 0x4000 BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fi
test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv slot_part
for BOOT_SLOT in "${BOOT_ORDER}"; do
  if test -n "${slot_part}"; then
    echo "slot ${BOOT_SLOT} skipped"
  elif test "x${BOOT_SLOT}" = "xA"; then
    if test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv slot_part 2
      setenv rauc_slot A
    fi
  elif test "x${BOOT_SLOT}" = "xB"; then
    if test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv slot_part 3
      setenv rauc_slot B
    fi
  fi
done

if test -z "${slot_part}"; then
  echo "No slot has tries left: both get 3 again"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  env export -c -s 0x4000 ${scriptaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
  fatwrite ${devtype} ${devnum}:1 ${scriptaddr} rauc.env 0x4000
  reset
fi

echo "Booting slot ${rauc_slot} (tries left: A=${BOOT_A_LEFT} B=${BOOT_B_LEFT})"
env export -c -s 0x4000 ${scriptaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite ${devtype} ${devnum}:1 ${scriptaddr} rauc.env 0x4000

# No console= : the kernel takes the device tree's stdout-path (the Pi's serial1, QEMU's pl011).
part uuid ${devtype} ${devnum}:${slot_part} slot_uuid
setenv bootargs "${bootargs} root=PARTUUID=${slot_uuid} rootwait ro fsck.repair=yes rauc.slot=${rauc_slot}"
if load ${devtype} ${devnum}:${slot_part} ${kernel_addr_r} /vmlinuz && load ${devtype} ${devnum}:${slot_part} ${ramdisk_addr_r} /initrd.img; then
  booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr}
fi
echo "Slot ${rauc_slot}: no kernel could start; this try is spent"
reset
