/*
 * smsc.sip._scan: the C twin of smsc/sip/scan.py's scan_message and scan_response.
 *
 * A thin wrapper: _scan_core.c reads the buffer; this file makes the same Python objects the
 * Python functions return (scan.ScannedMessage and scan.ScannedResponse) from its offsets.
 * P-Asserted-Identity URIs other than plain tel:/sip: ones go through the Python parse_uri.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_scan_core.h"

#define FEW_SPANS 16 /* Vias and asserted identities read without allocating */
#define MESSAGE_FIELDS 14
#define RESPONSE_FIELDS 3

static PyTypeObject *ScannedMessage;  /* smsc.sip.scan.ScannedMessage */
static PyTypeObject *ScannedResponse; /* smsc.sip.scan.ScannedResponse */
static PyObject *parse_uri;           /* smsc.sip.headers.parse_uri */
static PyObject *SipParseError;       /* smsc.sip.errors.SipParseError */
static PyObject *raw_name;            /* "raw" */

/* An ASCII str of data[s.off .. s.off + s.len), lower-cased when asked. */
static PyObject *ascii_text(const unsigned char *d, scan_span s, int lower)
{
    PyObject *text = PyUnicode_New((Py_ssize_t)s.len, 127);
    if (text == NULL || s.len == 0)
        return text;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    memcpy(out, d + s.off, s.len);
    if (lower)
        for (size_t i = 0; i < s.len; i++)
            if (out[i] >= 'A' && out[i] <= 'Z')
                out[i] = (Py_UCS1)(out[i] + 32);
    return text;
}

/* parse_uri(text).raw for one P-Asserted-Identity URI; Py_None when parse_uri says no. */
static PyObject *asserted_uri(const unsigned char *d, scan_span s)
{
    if (scan_plain_uri(d, s))
        return ascii_text(d, s, 0);
    PyObject *text = ascii_text(d, s, 0);
    if (text == NULL)
        return NULL;
    PyObject *uri = PyObject_CallOneArg(parse_uri, text);
    Py_DECREF(text);
    if (uri == NULL) {
        if (!PyErr_ExceptionMatches(SipParseError))
            return NULL;
        PyErr_Clear();  /* the general path answers 400 */
        Py_RETURN_NONE;
    }
    PyObject *raw = PyObject_GetAttr(uri, raw_name);
    Py_DECREF(uri);
    return raw;
}

/* An instance of a NamedTuple class holding `items` (references stolen), as tuple.__new__
 * makes it; NULL when an item is NULL. */
static PyObject *named_tuple(PyTypeObject *cls, PyObject **items, Py_ssize_t count)
{
    PyObject *tuple = NULL;
    for (Py_ssize_t i = 0; i < count; i++)
        if (items[i] == NULL)
            goto fail;
    tuple = cls->tp_alloc(cls, count);
    if (tuple == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < count; i++)
        PyTuple_SET_ITEM(tuple, i, items[i]);
    return tuple;
fail:
    for (Py_ssize_t i = 0; i < count; i++)
        Py_XDECREF(items[i]);
    return NULL;
}

/* The ScannedMessage of a scan (None when an asserted URI does not parse). */
static PyObject *message_of(PyObject *data, const scan_message_result *r, const scan_span *spans)
{
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data);
    PyObject *asserted = PyTuple_New((Py_ssize_t)r->asserted);
    if (asserted == NULL)
        return NULL;
    for (size_t i = 0; i < r->asserted; i++) {
        PyObject *uri = asserted_uri(d, spans[r->vias + i]);
        if (uri == NULL || uri == Py_None) {
            Py_DECREF(asserted);
            return uri;
        }
        PyTuple_SET_ITEM(asserted, (Py_ssize_t)i, uri);
    }
    PyObject *vias = PyList_New((Py_ssize_t)r->vias);
    if (vias == NULL) {
        Py_DECREF(asserted);
        return NULL;
    }
    for (size_t i = 0; i < r->vias; i++) {
        PyObject *value = ascii_text(d, spans[i], 0);
        if (value == NULL) {
            Py_DECREF(vias);
            Py_DECREF(asserted);
            return NULL;
        }
        PyList_SET_ITEM(vias, (Py_ssize_t)i, value);
    }
    PyObject *access_network_info = r->has_access_network_info
                                        ? ascii_text(d, r->access_network_info, 0)
                                        : Py_NewRef(Py_None);
    PyObject *items[MESSAGE_FIELDS] = {
        ascii_text(d, r->uri, 0),
        vias,
        ascii_text(d, r->branch, 0),
        ascii_text(d, r->host, 1),
        PyLong_FromUnsignedLong(r->port),
        PyBool_FromLong(r->rport),
        PyBool_FromLong(r->has_rport),
        ascii_text(d, r->from, 0),
        ascii_text(d, r->to, 0),
        ascii_text(d, r->call_id, 0),
        ascii_text(d, r->cseq, 0),
        asserted,
        access_network_info,
        PyBytes_FromStringAndSize((const char *)d + r->body.off, (Py_ssize_t)r->body.len),
    };
    return named_tuple(ScannedMessage, items, MESSAGE_FIELDS);
}

/* The two arguments, (data: bytes, max_headers: int), by position or keyword. */
static int arguments(const char *function, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, PyObject **data, PyObject **max_headers)
{
    static const char *const names[2] = {"data", "max_headers"};
    PyObject *given[2] = {NULL, NULL};
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes 2 positional arguments but %zd were given",
                     function, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        given[i] = args[i];
    Py_ssize_t keywords = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < keywords; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int slot = -1;
        for (int j = 0; j < 2; j++)
            if (PyUnicode_CompareWithASCIIString(name, names[j]) == 0)
                slot = j;
        if (slot < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         function, name);
            return -1;
        }
        if (given[slot] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                         function, names[slot]);
            return -1;
        }
        given[slot] = args[nargs + k];
    }
    for (int j = 0; j < 2; j++)
        if (given[j] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", function,
                         names[j]);
            return -1;
        }
    if (!PyBytes_Check(given[0])) {
        PyErr_Format(PyExc_TypeError, "%s() argument 'data' must be bytes, not %.80s", function,
                     Py_TYPE(given[0])->tp_name);
        return -1;
    }
    if (!PyLong_Check(given[1])) {
        PyErr_Format(PyExc_TypeError, "%s() argument 'max_headers' must be int, not %.80s",
                     function, Py_TYPE(given[1])->tp_name);
        return -1;
    }
    *data = given[0];
    *max_headers = given[1];
    return 0;
}

/* max_headers as a size_t: 1 and the count, or 0 when it is negative (no message fits). */
static int header_limit(PyObject *max_headers, size_t *limit)
{
    int overflow;
    long long value = PyLong_AsLongLongAndOverflow(max_headers, &overflow);
    if (overflow > 0) {
        *limit = SIZE_MAX;
        return 1;
    }
    if (overflow < 0 || value < 0)
        return 0;
    *limit = (unsigned long long)value > SIZE_MAX ? SIZE_MAX : (size_t)value;
    return 1;
}

static PyObject *scan_message(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    PyObject *data, *max_headers;
    size_t limit;
    (void)module;
    if (arguments("scan_message", args, nargs, kwnames, &data, &max_headers) < 0)
        return NULL;
    if (!header_limit(max_headers, &limit))
        Py_RETURN_NONE;
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data);
    size_t len = (size_t)PyBytes_GET_SIZE(data);
    scan_span few[FEW_SPANS], *spans = few;
    scan_message_result result;
    int status = scan_message_core(d, len, limit, spans, FEW_SPANS, &result);
    if (status == SCAN_ROOM) {
        spans = PyMem_New(scan_span, result.needed);
        if (spans == NULL)
            return PyErr_NoMemory();
        status = scan_message_core(d, len, limit, spans, result.needed, &result);
    }
    PyObject *answer = NULL;
    if (status == SCAN_OK)
        answer = message_of(data, &result, spans);
    else if (status == SCAN_NOMEM)
        PyErr_NoMemory();
    else
        answer = Py_NewRef(Py_None);
    if (spans != few)
        PyMem_Free(spans);
    return answer;
}

static PyObject *scan_response(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    PyObject *data, *max_headers;
    size_t limit;
    (void)module;
    if (arguments("scan_response", args, nargs, kwnames, &data, &max_headers) < 0)
        return NULL;
    if (!header_limit(max_headers, &limit))
        Py_RETURN_NONE;
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data);
    scan_response_result result;
    int status = scan_response_core(d, (size_t)PyBytes_GET_SIZE(data), limit, &result);
    if (status == SCAN_NOMEM)
        return PyErr_NoMemory();
    if (status != SCAN_OK)
        Py_RETURN_NONE;
    PyObject *items[RESPONSE_FIELDS] = {
        PyLong_FromUnsignedLong(result.status),
        ascii_text(d, result.branch, 0),
        ascii_text(d, result.method, 0),
    };
    return named_tuple(ScannedResponse, items, RESPONSE_FIELDS);
}

static PyMethodDef methods[] = {
    {"scan_message", (PyCFunction)(void (*)(void))scan_message, METH_FASTCALL | METH_KEYWORDS,
     "scan_message($module, /, data, max_headers)\n--\n\n"
     "A MESSAGE over UDP in the common shape, or None for the general parser."},
    {"scan_response", (PyCFunction)(void (*)(void))scan_response, METH_FASTCALL | METH_KEYWORDS,
     "scan_response($module, /, data, max_headers)\n--\n\n"
     "A response with one Via line in the shape we send, or None for the general parser."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "smsc.sip._scan",
    "The C twin of smsc.sip.scan's scan_message and scan_response (see smsc.sip.native).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

/* A NamedTuple class of smsc.sip.scan with the number of fields this file fills in. */
static PyTypeObject *named_tuple_class(PyObject *scan, const char *name, Py_ssize_t fields)
{
    PyObject *cls = PyObject_GetAttrString(scan, name);
    if (cls == NULL)
        return NULL;
    PyObject *names = PyObject_GetAttrString(cls, "_fields");
    Py_ssize_t count = names != NULL && PyTuple_Check(names) ? PyTuple_GET_SIZE(names) : -1;
    Py_XDECREF(names);
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type) ||
        count != fields) {
        PyErr_Format(PyExc_ImportError, "smsc.sip.scan.%s is not the NamedTuple of %zd fields "
                     "that smsc.sip._scan was built for", name, fields);
        Py_DECREF(cls);
        return NULL;
    }
    return (PyTypeObject *)cls;
}

/* The Python objects the scanners use, taken once; all of them or none. */
static int take_references(void)
{
    PyTypeObject *message = NULL, *response = NULL;
    PyObject *parse = NULL, *error = NULL, *raw = NULL;
    PyObject *scan = PyImport_ImportModule("smsc.sip.scan");
    PyObject *headers = PyImport_ImportModule("smsc.sip.headers");
    PyObject *errors = PyImport_ImportModule("smsc.sip.errors");
    if (scan != NULL && headers != NULL && errors != NULL) {
        message = named_tuple_class(scan, "ScannedMessage", MESSAGE_FIELDS);
        if (message != NULL)
            response = named_tuple_class(scan, "ScannedResponse", RESPONSE_FIELDS);
        if (response != NULL)
            parse = PyObject_GetAttrString(headers, "parse_uri");
        if (parse != NULL)
            error = PyObject_GetAttrString(errors, "SipParseError");
        if (error != NULL)
            raw = PyUnicode_InternFromString("raw");
    }
    Py_XDECREF(scan);
    Py_XDECREF(headers);
    Py_XDECREF(errors);
    if (raw == NULL) {
        Py_XDECREF(message);
        Py_XDECREF(response);
        Py_XDECREF(parse);
        Py_XDECREF(error);
        return -1;
    }
    ScannedMessage = message;
    ScannedResponse = response;
    parse_uri = parse;
    SipParseError = error;
    raw_name = raw;
    return 0;
}

PyMODINIT_FUNC PyInit__scan(void)
{
    if (ScannedMessage == NULL && take_references() < 0)
        return NULL;
    return PyModule_Create(&module_def);
}
