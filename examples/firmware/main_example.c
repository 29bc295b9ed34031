/*
 * The firmware example's program: the payment loop once, then what it
 * cost in arena and stack. Built as examples/firmware/payment_loop.elf;
 * runs on QEMU (scripts/firmware.sh) or, ported, on a terminal.
 */
#include "arena.h"
#include "board.h"
#include "payment_loop.h"

int main(void)
{
    fw_arena_reset(FW_ARENA_CAPACITY);
    constra_error err = CONSTRA_ERROR_INIT;
    int rc = fw_payment_loop(1, &err);
    if (rc != CONSTRA_OK) {
        fw_printf("payment loop failed: %s (%s)", err.message, err.code);
        return 1;
    }
    fw_printf("arena high-water %u B in %u allocations, %u B left in use; stack %u B",
              (unsigned)fw_arena_high_water(), (unsigned)fw_arena_allocations(),
              (unsigned)fw_arena_in_use(), (unsigned)fw_stack_used());
    return fw_arena_in_use() == 0 ? 0 : 1;
}
