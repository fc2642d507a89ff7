/*
 * LD_PRELOAD library for QEMU on an early-start mount: makes madvise(MADV_HUGEPAGE) a no-op, so that a
 * fault on guest RAM reads 4 KiB pages through FUSE instead of 2 MiB windows (native-notes/VM.md,
 * ../shared/QEMU.md). Every other advice goes to the C library. Build:
 *   cc -shared -fPIC -O2 -o nohugepage.so cli/src/main/c/nohugepage.c -ldl  (the cli module's Maven build does
 *   this into cli/target/native/; earlystart launch uses it unless --ram-faults 2m)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <sys/mman.h>

int madvise(void *addr, size_t length, int advice) {
  static int (*next)(void *, size_t, int);
  if (advice == MADV_HUGEPAGE) {
    return 0;
  }
  if (next == NULL) {
    next = (int (*)(void *, size_t, int)) dlsym(RTLD_NEXT, "madvise");
  }
  return next(addr, length, advice);
}
