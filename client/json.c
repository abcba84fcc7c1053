/* json.c — protobuf-c messages as JSON, walked through their descriptors.
 *
 * protobuf-c has no JSON support, and gortctl's --json should not need a
 * hand-written printer per message (it would drift from the .proto). Every
 * ProtobufCFieldDescriptor says where a field lives in the C struct (offset,
 * quantifier_offset for counts and oneof cases), its type and label, which is
 * all a generic printer needs.
 *
 * The mapping is proto3's canonical JSON with the choices a script wants:
 * field names as written in the .proto (snake_case, like
 * preserving_proto_field_name), every field printed even at its default,
 * enums as their names, 64-bit integers as JSON numbers (not strings: jq and
 * Python read them exactly up to 2^53, and beyond as floats), bytes as
 * base64.
 */
#include "json.h"

#include <inttypes.h>
#include <string.h>

static void indent(FILE *f, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  ", f);
}

static void string_print(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;
         p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void base64_print(FILE *f, const ProtobufCBinaryData *b)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t v = (uint32_t)b->data[i] << 16;
        size_t n = b->len - i < 3 ? b->len - i : 3;
        if (n > 1)
            v |= (uint32_t)b->data[i + 1] << 8;
        if (n > 2)
            v |= b->data[i + 2];
        for (size_t k = 0; k < 4; k++)
            fputc(k <= n ? tab[(v >> (18 - 6 * k)) & 63] : '=', f);
    }
    fputc('"', f);
}

static void message_print(FILE *f, const ProtobufCMessage *m, int depth);

static void enum_print(FILE *f, const ProtobufCEnumDescriptor *ed, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    if (ev)
        string_print(f, ev->name);
    else
        fprintf(f, "%d", v);
}

/* One value of field fd stored at p. */
static void value_print(FILE *f, const ProtobufCFieldDescriptor *fd,
                        const void *p, int depth)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        fprintf(f, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        fprintf(f, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fprintf(f, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        fprintf(f, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        fprintf(f, "%.9g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        fprintf(f, "%.17g", *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        enum_print(f, fd->descriptor, *(const int *)p);
        break;
    case PROTOBUF_C_TYPE_STRING:
        string_print(f, *(char *const *)p);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        base64_print(f, (const ProtobufCBinaryData *)p);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        message_print(f, *(ProtobufCMessage *const *)p, depth);
        break;
    }
}

static size_t value_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 4;
    }
}

static void repeated_print(FILE *f, const ProtobufCFieldDescriptor *fd,
                           const char *base, int depth)
{
    size_t n = *(const size_t *)(base + fd->quantifier_offset);
    const char *arr = *(char *const *)(base + fd->offset);
    size_t sz = value_size(fd);
    int nested = fd->type == PROTOBUF_C_TYPE_MESSAGE;

    if (n == 0) {
        fputs("[]", f);
        return;
    }
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (nested) {
            fputc('\n', f);
            indent(f, depth + 1);
        }
        value_print(f, fd, arr + i * sz, depth + 1);
        if (i + 1 < n)
            fputs(nested ? "," : ", ", f);
    }
    if (nested) {
        fputc('\n', f);
        indent(f, depth);
    }
    fputc(']', f);
}

/* Oneof members other than the chosen one are not printed. */
static int field_present(const ProtobufCFieldDescriptor *fd, const char *base)
{
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
    return 1;
}

static void message_print(FILE *f, const ProtobufCMessage *m, int depth)
{
    if (!m) {
        fputs("null", f);
        return;
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    int first = 1;

    fputc('{', f);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (!field_present(fd, base))
            continue;
        fputs(first ? "\n" : ",\n", f);
        first = 0;
        indent(f, depth + 1);
        string_print(f, fd->name);
        fputs(": ", f);
        if (fd->label == PROTOBUF_C_LABEL_REPEATED)
            repeated_print(f, fd, base, depth + 1);
        else
            value_print(f, fd, base + fd->offset, depth + 1);
    }
    if (!first) {
        fputc('\n', f);
        indent(f, depth);
    }
    fputc('}', f);
}

void json_print(FILE *f, const ProtobufCMessage *m)
{
    message_print(f, m, 0);
    fputc('\n', f);
}
