/*
 * Start-up code of the firmware example (Cortex-M4 and RV32): the reset
 * entry copies .data (with picolibc's thread-local .tdata) from flash,
 * zeroes .bss, paints the stack for fw_stack_used(), sets picolibc's TLS
 * pointer, turns on the Cortex-M4F's FPU, calls main and exits through the
 * board (board.c). The symbols come from the linker scripts
 * (mps2_an386.ld, riscv32_virt.ld).
 */
#include <stdint.h>
#include <string.h>

#include "board.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];
#if FW_PICOLIBC
extern uint8_t __tls_base[];
void _set_tls(void *tls);
#endif

void fw_reset(void);

/* Runs on the reset stack, before .data and .bss exist. */
__attribute__((noreturn, used)) void fw_reset(void)
{
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 (the FPU) before any float code. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
    memcpy(__data_start, __data_load, (size_t)((uintptr_t)__data_end - (uintptr_t)__data_start));
    memset(__bss_start, 0, (size_t)((uintptr_t)__bss_end - (uintptr_t)__bss_start));
    /* Paint the stack below what this function is using now. */
    uint32_t *sp = (uint32_t *)__builtin_frame_address(0) - 64;
    for (uint32_t *w = __stack_limit; w < sp; w++) {
        *w = 0xa5a5a5a5u;
    }
#if FW_PICOLIBC
    _set_tls(__tls_base);
#endif
    fw_exit(main());
}

#if defined(__arm__)
/* Cortex-M: the vector table (initial stack pointer, reset, faults). A
 * fault ends the program with a failure instead of hanging QEMU. */
static void fw_fault(void)
{
    fw_puts("FAULT: hard fault or unexpected exception");
    fw_exit(3);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top,
    fw_reset,
    fw_fault, fw_fault, fw_fault, fw_fault, fw_fault, 0, 0, 0, 0,
    fw_fault, fw_fault, 0, fw_fault, fw_fault,
};
#elif defined(__riscv)
/* RV32: _start sets the stack and global pointers, then the C reset. */
__asm__(".section .text.start, \"ax\"\n"
        ".global _start\n"
        "_start:\n"
        ".option push\n"
        ".option norelax\n"
        "  la gp, __global_pointer$\n"
        ".option pop\n"
        "  la sp, __stack_top\n"
        "  j fw_reset\n");
#endif
