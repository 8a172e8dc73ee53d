// Debian's zlib1g-dev: gzip request bodies of events-ingest are inflated with the system zlib.
#ifndef VANE_CZLIB_SHIM_H
#define VANE_CZLIB_SHIM_H

#include <zlib.h>

#endif
