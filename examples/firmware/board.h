/*
 * The board layer of the firmware example: what the start-up code and the
 * simulator board (QEMU) give the program. On a real board these are the
 * places to port (README.md): output (UART instead of semihosting), exit
 * (reset or halt), the stack measurement.
 */
#ifndef FW_BOARD_H
#define FW_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* One line of text out (semihosting SYS_WRITE0 on QEMU). */
void fw_puts(const char *s);
/* printf-style text out, for %s/%d/%u only (never 64-bit conversions:
 * newlib-nano has none). Lines are cut at 256 bytes. */
void fw_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the program: status 0 = success (QEMU exits 0), else QEMU exits 1. */
void fw_exit(int status) __attribute__((noreturn));

/* Bytes of stack used so far: the start-up code paints the stack before
 * main; this finds the deepest word that changed. */
size_t fw_stack_used(void);
size_t fw_stack_size(void);

/* The program's entry, called by the start-up code. */
int main(void);

#endif
