/* placeholder */
#ifndef CONSTRA_DARAJA_EMULATOR_H
#define CONSTRA_DARAJA_EMULATOR_H
#endif
