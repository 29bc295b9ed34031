/*
 * Semihosting output and exit, and the stack measurement, for QEMU's
 * mps2-an386 (Cortex-M4) and riscv32 `virt`. Semihosting is a debugger
 * call (ARM: `bkpt 0xab`; RISC-V: the slli/ebreak/srai sequence) that
 * QEMU answers with -semihosting-config enable=on. On a real board without
 * a debugger attached it would halt: write to a UART instead.
 */
#include "board.h"

#include <stdarg.h>
#include <stdio.h>

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

/* A string the exe_wrapper of the cross files (cross/) looks for: only images that carry
 * it are run (meson's own sanity-check program is not). */
__attribute__((used, section(".rodata.fw_marker"))) const char fw_image_marker[] =
    "constra-firmware-image";

static long semihost(long op, void *arg)
{
#if defined(__arm__)
    register long r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
#elif defined(__riscv)
    register long a0 __asm__("a0") = op;
    register void *a1 __asm__("a1") = arg;
    __asm__ volatile(".balign 16\n"
                     ".option push\n"
                     ".option norvc\n"
                     "slli x0, x0, 0x1f\n"
                     "ebreak\n"
                     "srai x0, x0, 7\n"
                     ".option pop\n"
                     : "+r"(a0)
                     : "r"(a1)
                     : "memory");
    return a0;
#else
#error "board.c: no semihosting for this CPU"
#endif
}

void fw_puts(const char *s)
{
    semihost(SYS_WRITE0, (void *)(uintptr_t)s);
    semihost(SYS_WRITE0, (void *)(uintptr_t)"\n");
}

void fw_printf(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fw_puts(line);
}

void fw_exit(int status)
{
    for (;;) {
        semihost(SYS_EXIT, (void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                            : ADP_STOPPED_RUNTIME_ERROR));
    }
}

/* From the linker script: the stack region. */
extern uint32_t __stack_limit[], __stack_top[];
#define STACK_PAINT 0xa5a5a5a5u

size_t fw_stack_size(void)
{
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit);
}

size_t fw_stack_used(void)
{
    const uint32_t *w = __stack_limit;
    while (w < __stack_top && *w == STACK_PAINT) {
        w++;
    }
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)w);
}
