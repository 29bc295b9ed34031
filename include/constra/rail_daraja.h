/* placeholder */
#ifndef CONSTRA_RAIL_DARAJA_H
#define CONSTRA_RAIL_DARAJA_H
#endif
