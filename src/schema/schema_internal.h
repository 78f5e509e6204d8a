/* schema_internal.h - definitions shared by the files of src/schema (not for other modules). */
#ifndef PGSEAL_SCHEMA_INTERNAL_H
#define PGSEAL_SCHEMA_INTERNAL_H

/* PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; longer names could never match. */
#define SCHEMA_NAME_MAX 63

#endif
