/* json.h — any protobuf-c message as JSON, from its descriptor. */
#ifndef GORT_JSON_H
#define GORT_JSON_H

#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

/* Writes m as pretty-printed JSON and a newline. */
void json_print(FILE *f, const ProtobufCMessage *m);

#endif /* GORT_JSON_H */
