// Umbrella header for Debian's librdkafka-dev (2.0.2): the headers live in /usr/include/librdkafka/.
#ifndef VANE_CRDKAFKA_SHIM_H
#define VANE_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#endif
