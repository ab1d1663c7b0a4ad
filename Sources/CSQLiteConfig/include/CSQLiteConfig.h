#ifndef C_SQLITE_CONFIG_H
#define C_SQLITE_CONFIG_H

/* Process-wide SQLite settings that GRDB does not expose: sqlite3_config is
 * variadic, which Swift cannot call. Only HarepostStore imports this. */

#include <stdbool.h>

/* Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS). With them
 * on, every sqlite3_malloc and sqlite3_free takes one process-wide mutex,
 * which the store's event-loop threads then contend for on every read.
 * Takes effect only before SQLite initializes (before the first connection
 * opens); returns whether it did. */
bool hp_sqlite_disable_memory_statistics(void);

#endif
