/*
 * The parser's fast case in plain C: see _scan_core.h. Each test below is one test of
 * smsc/sip/scan.py on the ASCII head, in the words of Python's str methods where that helps.
 */
#include "_scan_core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VIA_PREFIX "SIP/2.0/UDP "
#define VIA_PREFIX_LEN 12
#define MAGIC_COOKIE "z9hG4bK" /* RFC 3261 §8.1.1.7 */
#define MAGIC_COOKIE_LEN 7
#define CONTENT_TYPE_SMS "application/vnd.3gpp.sms"
#define DEFAULT_PORT 5060 /* RFC 3261 §18.2.2 */
#define FEW_PARAMS 16     /* Via parameters compared pairwise; more are sorted */

/* The headers scan.py reads (its _READ), and their compact forms (RFC 3261 §7.3.3). */
enum { H_VIA, H_FROM, H_TO, H_CALL_ID, H_CSEQ, H_CTYPE, H_CLENGTH, H_PAI, H_PANI, H_COUNT };

static const struct {
    const char *name;
    size_t len;
    char compact;
} READ[H_COUNT] = {
    {"Via", 3, 'v'},
    {"From", 4, 'f'},
    {"To", 2, 't'},
    {"Call-ID", 7, 'i'},
    {"CSeq", 4, 0},
    {"Content-Type", 12, 'c'},
    {"Content-Length", 14, 'l'},
    {"P-Asserted-Identity", 19, 0},
    {"P-Access-Network-Info", 21, 0},
};

/* The header section, split as scan._fields splits it. */
typedef struct {
    size_t end;       /* data[end .. end + 4) is the empty line */
    scan_span first;  /* the start line */
    scan_span field[H_COUNT];  /* field[H_VIA] is the top Via */
    int have[H_COUNT];
    size_t vias;
    int via_odd;      /* some Via value holds ',' or '"' */
} head;

/* The top Via as scan._scan_via reads it. */
typedef struct {
    scan_span branch;
    scan_span host;
    unsigned port;
    int rport;
    int has_rport;
} via;

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int is_alpha(unsigned char c) { return is_lower(c) || (c >= 'A' && c <= 'Z'); }
static int is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static unsigned char to_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* str.isprintable on one ASCII character. */
static int is_printable(unsigned char c) { return c >= 0x20 && c < 0x7f; }

/* What str.strip() with no argument removes, in ASCII. */
static int is_space(unsigned char c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

/* RFC 3261 §25.1 token character (headers.TOKEN_CHARS). */
static int is_token(unsigned char c)
{
    switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`': case '\'':
    case '~':
        return 1;
    default:
        return is_alnum(c);
    }
}

/* Some byte of the eight is CR, LF or not ASCII (each byte tested at once, as a word). */
static int special_word(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t w, cr, lf;
    memcpy(&w, p, sizeof w);
    cr = w ^ (ones * '\r');
    lf = w ^ (ones * '\n');
    /* (x - ones) & ~x has a high bit set where x has a zero byte (and maybe above it) */
    return (((cr - ones) & ~cr) | ((lf - ones) & ~lf) | w) & highs ? 1 : 0;
}

static scan_span span(size_t off, size_t len)
{
    scan_span s = {off, len};
    return s;
}

/* str.strip() of data[off .. end). */
static scan_span strip(const unsigned char *d, size_t off, size_t end)
{
    while (off < end && is_space(d[off]))
        off++;
    while (end > off && is_space(d[end - 1]))
        end--;
    return span(off, end - off);
}

static int has(const unsigned char *d, scan_span s, unsigned char c)
{
    return s.len > 0 && memchr(d + s.off, c, s.len) != NULL;
}

static int equals(const unsigned char *d, scan_span s, const char *text)
{
    size_t n = strlen(text);
    return s.len == n && memcmp(d + s.off, text, n) == 0;
}

/* Equal to `name` ignoring ASCII case. */
static int equals_folded(const unsigned char *p, size_t n, const char *name, size_t len)
{
    if (n != len)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (to_lower(p[i]) != to_lower((unsigned char)name[i]))
            return 0;
    return 1;
}

/* "tag" in text.lower(). */
static int has_tag(const unsigned char *d, scan_span s)
{
    for (size_t i = 0; i + 3 <= s.len; i++) {
        const unsigned char *p = d + s.off + i;
        if (to_lower(p[0]) == 't' && to_lower(p[1]) == 'a' && to_lower(p[2]) == 'g')
            return 1;
    }
    return 0;
}

/* Python's text.isdigit() and then int(text) on ASCII, leading zeros and all; *big when the
 * value is more than a uint64_t holds (then no message length can equal it). */
static int digits(const unsigned char *d, scan_span s, uint64_t *value, int *big)
{
    uint64_t v = 0;
    *big = 0;
    if (s.len == 0)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = d[s.off + i];
        if (!is_digit(c))
            return 0;
        if (v > (UINT64_MAX - (c - '0')) / 10)
            *big = 1;
        else
            v = v * 10 + (c - '0');
    }
    *value = v;
    return 1;
}

/* RFC 3261 §20.16 "number method", split at the first space: the method, when the number is
   digits, at most 10 of them, below 2**31 (§8.1.1.5). */
static int cseq_method(const unsigned char *d, scan_span cseq, scan_span *method)
{
    const unsigned char *space = memchr(d + cseq.off, ' ', cseq.len);
    if (space == NULL)
        return 0;
    size_t number_len = (size_t)(space - d) - cseq.off;
    uint64_t v;
    int big;
    if (number_len > 10 || !digits(d, span(cseq.off, number_len), &v, &big) || big ||
        v >= ((uint64_t)1 << 31))
        return 0;
    *method = span(cseq.off + number_len + 1, cseq.len - number_len - 1);
    return 1;
}

/* data.find(b"\r\n\r\n"): where the header section ends (RFC 3261 §7.5). */
static int find_empty_line(const unsigned char *d, size_t len, size_t *end)
{
    size_t i = 0;
    while (len >= 4 && i <= len - 4) {
        const unsigned char *cr = memchr(d + i, '\r', len - 3 - i);
        if (cr == NULL)
            return 0;
        i = (size_t)(cr - d);
        if (d[i + 1] == '\n' && d[i + 2] == '\r' && d[i + 3] == '\n') {
            *end = i;
            return 1;
        }
        i++;
    }
    return 0;
}

/* The read header a name stands for when spelled exactly as scan._READ has it, or -1. */
static int read_key(const unsigned char *name, size_t n)
{
    for (int k = 0; k < H_COUNT; k++)
        if (READ[k].len == n && memcmp(name, READ[k].name, n) == 0)
            return k;
    return -1;
}

/* message.header_key(name) is a header that scan.py does not read, and the name does not
 * start with whitespace: the test scan._fields makes of the other lines (RFC 3261 §7.3.1). */
static int other_header(const unsigned char *name, size_t n)
{
    if (n == 0 || name[0] == ' ' || name[0] == '\t')
        return 0;
    while (name[n - 1] == ' ' || name[n - 1] == '\t')
        n--;  /* name[0] is neither, so n stays above 0 */
    for (size_t i = 0; i < n; i++)
        if (!is_token(name[i]))
            return 0;
    for (int k = 0; k < H_COUNT; k++) {
        if (equals_folded(name, n, READ[k].name, READ[k].len))
            return 0;
        if (n == 1 && READ[k].compact && to_lower(name[0]) == (unsigned char)READ[k].compact)
            return 0;
    }
    return 1;
}

/* One header line data[s .. e) as scan._fields reads it. */
static int header_line(const unsigned char *d, size_t s, size_t e, head *h, scan_span *spans,
                       size_t room)
{
    const unsigned char *colon = memchr(d + s, ':', e - s);
    size_t name_end = colon != NULL ? (size_t)(colon - d) : e;
    if (colon == NULL)
        return SCAN_NO; /* not a header line: the general parser refuses it */
    int key = read_key(d + s, name_end - s);
    if (key < 0)
        return other_header(d + s, name_end - s) ? SCAN_OK : SCAN_NO;
    scan_span value = strip(d, name_end + 1, e);
    if (key == H_VIA) {
        if (h->vias == 0)
            h->field[H_VIA] = value;
        if (h->vias < room)
            spans[h->vias] = value;
        h->vias++;
        if (has(d, value, ',') || has(d, value, '"'))
            h->via_odd = 1;
        return SCAN_OK;
    }
    if (h->have[key])
        return SCAN_NO;
    h->have[key] = 1;
    h->field[key] = value;
    return SCAN_OK;
}

/* scan._split_head and scan._fields: an ASCII head of CRLF lines, no line folded, each read
 * header spelled canonically and (but Via) once, at most max_headers header lines. */
static int read_head(const unsigned char *d, size_t len, size_t max_headers, scan_span *spans,
                     size_t room, head *h)
{
    memset(h, 0, sizeof *h);
    if (!find_empty_line(d, len, &h->end))
        return SCAN_NO;
    size_t end = h->end, start = 0, lines = 0;
    for (size_t i = 0;; i++) {
        while (i + 8 <= end && !special_word(d + i))
            i += 8;  /* eight bytes of a line's text */
        unsigned char c = i < end ? d[i] : '\r';
        if (c >= 0x80 || c == '\n')
            return SCAN_NO;  /* not ASCII, or a bare LF */
        if (c != '\r')
            continue;
        if (i < end && (i + 1 >= end || d[i + 1] != '\n'))
            return SCAN_NO;  /* a bare CR */
        if (lines == 0) {
            h->first = span(0, i);
        } else {
            if (lines > max_headers)
                return SCAN_NO;
            if (header_line(d, start, i, h, spans, room) != SCAN_OK)
                return SCAN_NO;
        }
        lines++;
        if (i >= end)
            return SCAN_OK;
        i++;
        start = i + 1;
    }
}

/* Two Via parameter names, for qsort. */
typedef struct {
    const unsigned char *p;
    size_t n;
} name_ref;

static int compare_names(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int order = memcmp(x->p, y->p, n);
    if (order != 0)
        return order;
    return (x->n > y->n) - (x->n < y->n);
}

/* Some name is there twice (scan._scan_via's `seen`). */
static int repeated(name_ref *names, size_t count)
{
    if (count <= FEW_PARAMS) {
        for (size_t i = 0; i < count; i++)
            for (size_t j = i + 1; j < count; j++)
                if (names[i].n == names[j].n && memcmp(names[i].p, names[j].p, names[i].n) == 0)
                    return 1;
        return 0;
    }
    qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 1; i < count; i++)
        if (compare_names(&names[i - 1], &names[i]) == 0)
            return 1;
    return 0;
}

/* The parameters of the top Via, data[s .. e) from its first ';' on: lower-case alphanumeric
 * names, once each, no maddr, values printable; branch and rport noted (RFC 3261 §20.42). */
static int via_params(const unsigned char *d, size_t s, size_t e, via *v)
{
    name_ref few[FEW_PARAMS], *names = few;
    size_t count = 0, at = 0;
    for (size_t i = s; i < e; i++) {
        if (!is_printable(d[i]))
            return SCAN_NO;
        count += d[i] == ';';
    }
    if (count > FEW_PARAMS) {
        names = malloc(count * sizeof *names);
        if (names == NULL)
            return SCAN_NOMEM;
    }
    int found = 0, status = SCAN_NO;
    for (size_t p = s; p < e;) {
        size_t start = p + 1;  /* d[p] is ';' */
        const unsigned char *semi = memchr(d + start, ';', e - start);
        size_t stop = semi != NULL ? (size_t)(semi - d) : e;
        const unsigned char *eq = memchr(d + start, '=', stop - start);
        size_t name_end = eq != NULL ? (size_t)(eq - d) : stop;
        size_t n = name_end - start;
        int lower = 0;
        for (size_t i = start; i < name_end; i++) {
            if (!is_lower(d[i]) && !is_digit(d[i]))
                goto done;
            lower |= is_lower(d[i]);
        }
        if (!lower || (n == 5 && memcmp(d + start, "maddr", 5) == 0))
            goto done;  /* empty, digits only, or maddr */
        names[at].p = d + start;
        names[at].n = n;
        at++;
        if (n == 6 && memcmp(d + start, "branch", 6) == 0) {
            size_t from = eq != NULL ? name_end + 1 : stop;
            v->branch = span(from, stop - from);
            found = 1;
        } else if (n == 5 && memcmp(d + start, "rport", 5) == 0) {
            v->has_rport = 1;
            v->rport = eq == NULL;
        }
        p = stop;
    }
    if (!found || repeated(names, at))
        goto done;
    if (v->branch.len < MAGIC_COOKIE_LEN ||
        memcmp(d + v->branch.off, MAGIC_COOKIE, MAGIC_COOKIE_LEN) != 0)
        goto done;
    status = SCAN_OK;
done:
    if (names != few)
        free(names);
    return status;
}

/* scan._scan_via: "SIP/2.0/UDP host[:port];params" without whitespace or quoting. */
static int scan_via(const unsigned char *d, scan_span top, via *v)
{
    memset(v, 0, sizeof *v);
    if (top.len < VIA_PREFIX_LEN || memcmp(d + top.off, VIA_PREFIX, VIA_PREFIX_LEN) != 0)
        return SCAN_NO;
    size_t s = top.off + VIA_PREFIX_LEN, e = top.off + top.len;
    if (has(d, span(s, e - s), ' ') || has(d, span(s, e - s), '\t'))
        return SCAN_NO;
    const unsigned char *semi = memchr(d + s, ';', e - s);
    size_t sent_by_end = semi != NULL ? (size_t)(semi - d) : e;
    const unsigned char *colon = memchr(d + s, ':', sent_by_end - s);
    size_t host_end = colon != NULL ? (size_t)(colon - d) : sent_by_end;
    int alnum = 0;
    for (size_t i = s; i < host_end; i++) {
        if (!is_alnum(d[i]) && d[i] != '.' && d[i] != '-')
            return SCAN_NO;
        alnum |= is_alnum(d[i]);
    }
    if (!alnum)
        return SCAN_NO;  /* empty, or dots and dashes only */
    v->host = span(s, host_end - s);
    v->port = DEFAULT_PORT;
    if (colon != NULL) {
        scan_span port = span(host_end + 1, sent_by_end - host_end - 1);
        uint64_t value;
        int big;
        if (port.len > 5 || !digits(d, port, &value, &big) || value > 65535)
            return SCAN_NO;
        v->port = (unsigned)value;
    }
    return via_params(d, sent_by_end, e, v);
}

int scan_plain_uri(const unsigned char *d, scan_span text)
{
    const unsigned char *p = d + text.off;
    size_t n = text.len;
    if (n > 4 && memcmp(p, "tel:", 4) == 0)  /* RFC 3966: a number, no parameters */
        return memchr(p + 4, ';', n - 4) == NULL && !is_space(p[n - 1]);
    size_t scheme = 0;
    if (n > 4 && memcmp(p, "sip:", 4) == 0)
        scheme = 4;
    else if (n > 5 && memcmp(p, "sips:", 5) == 0)
        scheme = 5;
    else
        return 0;
    /* RFC 3261 §19.1.1: [user[:password]@]host with a token host, no port, parameters or
     * headers (the user part is taken as it is up to the first '@'). */
    const unsigned char *rest = p + scheme, *host = rest;
    size_t m = n - scheme, host_len = m;
    const unsigned char *at = memchr(rest, '@', m);
    if (at != NULL) {
        if (at == rest || rest[0] == ':')
            return 0;
        host = at + 1;
        host_len = m - (size_t)(host - rest);
    }
    if (host_len == 0)
        return 0;
    for (size_t i = 0; i < host_len; i++)
        if (!is_token(host[i]))
            return 0;
    return 1;
}

/* The URIs of P-Asserted-Identity (RFC 3325 §9.1), each written <uri> with no whitespace or
 * quote, into spans[first ..]; their count in *count. */
static int asserted_uris(const unsigned char *d, scan_span value, scan_span *spans,
                         size_t room, size_t first, size_t *count)
{
    size_t p = value.off, e = value.off + value.len;
    *count = 0;
    for (;;) {
        const unsigned char *comma = memchr(d + p, ',', e - p);
        size_t stop = comma != NULL ? (size_t)(comma - d) : e;
        scan_span part = strip(d, p, stop);
        if (part.len < 2 || d[part.off] != '<')
            return SCAN_NO;
        const unsigned char *close = memchr(d + part.off, '>', part.len);
        if (close != d + part.off + part.len - 1 || has(d, part, ' ') || has(d, part, '"') ||
            has(d, part, '\t'))
            return SCAN_NO;
        if (first + *count < room)
            spans[first + *count] = span(part.off + 1, part.len - 2);
        (*count)++;
        if (comma == NULL)
            return SCAN_OK;
        p = stop + 1;
    }
}

int scan_message_core(const unsigned char *d, size_t len, size_t max_headers,
                      scan_span *spans, size_t room, scan_message_result *out)
{
    head h;
    via v;
    uint64_t length;
    int big;
    if (read_head(d, len, max_headers, spans, room, &h) != SCAN_OK || h.vias == 0)
        return SCAN_NO;
    /* RFC 3261 §7.1: "MESSAGE " Request-URI " SIP/2.0", the URI with a ':' and no blank. */
    scan_span first = h.first;
    if (first.len < 16 || memcmp(d, "MESSAGE ", 8) != 0 ||
        memcmp(d + first.len - 8, " SIP/2.0", 8) != 0)
        return SCAN_NO;
    scan_span uri = span(8, first.len - 16);
    if (!has(d, uri, ':') || has(d, uri, ' ') || has(d, uri, '\t'))
        return SCAN_NO;
    if (!h.have[H_FROM] || !h.have[H_TO] || !h.have[H_CALL_ID] || !h.have[H_CSEQ] ||
        !h.have[H_CLENGTH] || !h.have[H_CTYPE])
        return SCAN_NO;
    scan_span body = span(h.end + 4, len - h.end - 4);
    if (!equals(d, h.field[H_CTYPE], CONTENT_TYPE_SMS))
        return SCAN_NO;
    if (!digits(d, h.field[H_CLENGTH], &length, &big) || big || length != body.len)
        return SCAN_NO;
    scan_span cseq = h.field[H_CSEQ], method;
    if (!cseq_method(d, cseq, &method) || !equals(d, method, "MESSAGE"))
        return SCAN_NO;
    scan_span call_id = h.field[H_CALL_ID], from = h.field[H_FROM], to = h.field[H_TO];
    if (call_id.len == 0 || has(d, call_id, ' ') || from.len == 0 || to.len == 0 ||
        has_tag(d, to))
        return SCAN_NO;
    if (h.via_odd)
        return SCAN_NO;
    int status = scan_via(d, h.field[H_VIA], &v);
    if (status != SCAN_OK)
        return status;
    size_t asserted = 0;
    if (h.have[H_PAI] &&
        asserted_uris(d, h.field[H_PAI], spans, room, h.vias, &asserted) != SCAN_OK)
        return SCAN_NO;
    out->uri = uri;
    out->branch = v.branch;
    out->host = v.host;
    out->from = from;
    out->to = to;
    out->call_id = call_id;
    out->cseq = cseq;
    out->access_network_info = h.have[H_PANI] ? h.field[H_PANI] : span(0, 0);
    out->has_access_network_info = h.have[H_PANI];
    out->body = body;
    out->port = v.port;
    out->rport = v.rport;
    out->has_rport = v.has_rport;
    out->vias = h.vias;
    out->asserted = asserted;
    out->needed = h.vias + asserted;
    return out->needed > room ? SCAN_ROOM : SCAN_OK;
}

int scan_response_core(const unsigned char *d, size_t len, size_t max_headers,
                       scan_response_result *out)
{
    head h;
    via v;
    uint64_t length;
    int big;
    if (read_head(d, len, max_headers, NULL, 0, &h) != SCAN_OK)
        return SCAN_NO;
    /* RFC 3261 §7.2: "SIP/2.0 " three digits, the first 1 to 6, then a space. */
    if (h.end < 12 || memcmp(d, "SIP/2.0 ", 8) != 0 || !is_digit(d[9]) || !is_digit(d[10]) ||
        d[8] < '1' || d[8] > '6' || d[11] != ' ')
        return SCAN_NO;
    if (h.vias != 1 || h.via_odd)
        return SCAN_NO;
    if (!h.have[H_CSEQ] || !h.have[H_CALL_ID] || !h.have[H_FROM] || !h.have[H_TO])
        return SCAN_NO;
    scan_span method;
    if (!cseq_method(d, h.field[H_CSEQ], &method) || method.len == 0)
        return SCAN_NO;
    for (size_t i = 0; i < method.len; i++)
        if (!is_alpha(d[method.off + i]))
            return SCAN_NO;
    if (h.have[H_CLENGTH] &&
        (!digits(d, h.field[H_CLENGTH], &length, &big) || big || length > len - h.end - 4))
        return SCAN_NO;
    int status = scan_via(d, h.field[H_VIA], &v);
    if (status != SCAN_OK)
        return status;
    out->status = (unsigned)(d[8] - '0') * 100 + (unsigned)(d[9] - '0') * 10 + (d[10] - '0');
    out->branch = v.branch;
    out->method = method;
    return SCAN_OK;
}
