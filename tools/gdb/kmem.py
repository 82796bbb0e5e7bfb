"""
kmem.py -- gdb commands that read kmem's heap, after illumos mdb's dcmds.

Load it with `source kmem.py` (or `gdb -x kmem.py`), then:

    kmem kmastat                 ::kmastat      (= kmem_kmastat())
    kmem cache [NAME|ADDR]       ::kmem_cache
    kmem vmem                    ::vmem         (= vmem_print())
    kmem vmem_seg ADDR|ARENA     ::vmem_seg
    kmem whatis EXPR             ::whatis       (= kmem_whatis())
    kmem bufctl_audit EXPR       ::bufctl_audit (= kmem_audit_print())
    kmem log [transaction|contents|fail]        ::kmem_log
    kmem verify                  ::kmem_verify  (= kmem_verify())
    kmem findleaks               ::findleaks    (= kmem_findleaks())

Arguments are gdb expressions (`kmem whatis keep[0]`).  The manual is
kmem-gdb(1).

Theory of operation
-------------------
Memory only.  Every command reads kmem's structures out of the inferior's
memory and never calls a function in it, so it works the same on a live
process stopped anywhere and on a core file (generate-core-file, or a
crash).  The structures are the ones docs/internals.md lists as "the roots
a debugger starts from": kmem_cache_list, kmem_cpu_list, vmem_list, the
kmem_*_arena pointers, kmem_logs and kmem_owner_root.

Layout from the debug info.  Field offsets and sizes come from the
program's DWARF (gdb.lookup_type): a `Struct` is one C structure's layout,
a `Record` one instance of it read in a single memory access and decoded
on demand.  Nothing here hard-codes an offset.  The first thing every
command does is compare the library's kmem_layout_version with
LAYOUT_VERSION (KMEM_LAYOUT_VERSION in src/model/kmem_types.h) and check
that every field in REQUIRED exists; either failure stops the command
with a message that says what changed (and gdb -batch exits non-zero).
What the DWARF cannot give -- #define'd flag values, patterns and a few
sizes -- is in the constants below, each naming its header.

The same arithmetic as the library.  The tables that have a printer in
the library are reproduced line for line, from the same fields with the
same C arithmetic (64-bit unsigned wrap included): kmem kmastat is
kmem_kmastat() (src/stats/kmem_stat.c), kmem vmem is vmem_print()
(src/stats/vmem_stat.c), kmem whatis is kmem_whatis() (src/stats/
whatis.c), kmem bufctl_audit is kmem_audit_print() (src/debug/audit.c),
kmem verify is kmem_verify() (src/debug/verify.c) and kmem findleaks is
kmem_findleaks() (src/stats/findleaks.c).  Where the library would change
state first, this cannot: kmem_verify() purges the per-thread magazines
before it checks the free buffers; here their rounds are checked where
they are, after the slabs and the depot.

Time.  A core has no "now", so the `time=T-...` of an audit record is
printed relative to the newest timestamp found: the newest record of the
logs when the transaction log is on (it holds every audited
transaction), otherwise the newest audit record of any buffer.

Symbols.  A stack frame is printed as the library's kmem_plat_symbol()
prints it (platform/posix/posix_debug.c): what dladdr(3) answers for
pc - 1, that is a *dynamic* symbol of the object holding the address
(name+0xoff; a function that is static or hidden has none), else the
object's base name and the offset from its load address.  The objects'
.dynsym tables are read from their ELF files and searched in dladdr's
order (glibc's determine_info()), so aliases resolve as the library's
do.

findleaks.  The mark is the library's: the "mtab" is every allocated
buffer of every client cache (a cache not on kmem_metadata and not a
quantum cache) plus every kmem_oversize segment; the roots are every
readable, writable mapping (live: /proc/PID/maps; core: the writable
PT_LOAD segments) less kmem's own memory, each thread's stack only from
its stack pointer up, every thread's registers, every cache structure,
every per-CPU record, and the free buffers of client caches with a
constructor.  Every aligned word that falls inside an mtab entry marks
it (interior pointers count), and marked entries are scanned in turn
from an explicit stack.  kmem's own memory is: the spans of every root
arena under a client cache (heap, a firewall arena, a client's arena
over its own memory) and of the roots of kmem_metadata and
kmem_oversize; the owner map's leaves; vmem's own structures (every
vmem_t, the segment pages on vmem_seg_chunks and every vmem_seg_t on an
arena list, reserve or the pool: segments hold the addresses of
kmem_oversize buffers and of slabs' first chunks); and the library's own
leak-scan state (leak_state).  `kmem findleaks -w EXPR` shows the chain
of pointers that keeps a buffer off the report.
"""

import array
import bisect
import os
import re
import struct

import gdb

# The layout this script reads (KMEM_LAYOUT_VERSION, src/model/kmem_types.h).
LAYOUT_VERSION = 4

MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1

# ---- values the debug info does not carry (#defines) ----

# include/kmem/kmem.h
KMF_AUDIT = 0x00000001
KMF_DEADBEEF = 0x00000002
KMF_REDZONE = 0x00000004
KMF_BUFTAG = KMF_DEADBEEF | KMF_REDZONE
KMC_NOTOUCH = 0x00010000
KMC_QCACHE = 0x00100000
KMC_IDENTIFIER = 0x00400000
VMC_IDENTIFIER = 0x00040000
# src/model/kmem_types.h
KMF_HASH = 0x00000200
# include/kmem/vmem.h
VMEM_ALLOC = 0x01
VMEM_FREE = 0x02
VMEM_SPAN = 0x10
VMEM_ROTOR = 0x20
VMEM_WALKER = 0x40
# src/debug/debug_impl.h
KMEM_FREE_PATTERN = 0xdeadbeefdeadbeef
KMEM_REDZONE_PATTERN = 0xfeedfacefeedface
KMEM_BUFTAG_ALLOC = 0xa110c8ed
KMEM_BUFTAG_FREE = 0xf4eef4ee
# include/kmem/kmem_debug.h
KMEM_STACK_MAX = 32
KMEM_AUDIT_EVENTS = {1: "ALLOC", 2: "FREE", 3: "FAIL"}
KMEM_LOGS = ("transaction", "contents", "fail")
# src/vmem/vmem_pages.c
VMEM_RESERVE_FRACTION = 64
VMEM_RESERVE_MAX = 16 * 1024 * 1024
# src/owner/owner.h: a leaf maps 2^KMEM_OWNER_LEAF_BITS 4 KiB granules
KMEM_OWNER_LEAF_ENTRIES = 1 << 18
# platform/posix/posix_leaks.c: mappings this large are sanitizer shadow
SHADOW_MIN = 64 << 30

# Every structure and field the commands read.  A layout change that
# removes or renames one of these stops every command with its name.
REQUIRED = {
    "kmem_list_t": ("next",),
    "kmem_cache_t": (
        "cache_name", "cache_bufsize", "cache_chunksize", "cache_slabsize",
        "cache_bufctl", "cache_buftag", "cache_audit", "cache_audit_depth",
        "cache_flags", "cache_verify", "cache_cflags", "cache_constructor",
        "cache_arena", "cache_slot", "cache_link", "cache_partial",
        "cache_complete", "cache_nempty", "cache_hash_table",
        "cache_hash_mask", "cache_buftotal", "cache_bufslab",
        "cache_constructed_slab", "cache_slab_create",
        "cache_slab_destroy", "cache_alloc_fail", "cache_free_uncounted",
        "cache_full.ml_list", "cache_full.ml_capacity", "cache_cpu_free",
        "cache_detached"),
    "kmem_slab_t": (
        "slab_cache", "slab_mem", "slab_base", "slab_link", "slab_head",
        "slab_raw", "slab_refcnt", "slab_chunks", "slab_bump",
        "slab_nhead"),
    "kmem_bufctl_t": ("bc_next", "bc_addr", "bc_slab"),
    "kmem_magazine_t": ("mag_next", "mag_size", "mag_rounds", "mag_round"),
    "kmem_cpu_cache_t": (
        "cc_loaded", "cc_ploaded", "cc_rounds", "cc_prounds", "cc_magsize",
        "cc_free", "cc_rfull", "cc_nrfull"),
    "kmem_cpu_t": ("cpu_ncc", "cpu_cc", "cpu_link"),
    "vmem_t": (
        "vm_name", "vm_source", "vm_seg0", "vm_freelist", "vm_freemap",
        "vm_hash_table", "vm_hash_mask", "vm_nbusy", "vm_segfree",
        "vm_qdirect", "vm_nwhole", "vm_kstat.vk_mem_inuse",
        "vm_kstat.vk_mem_import", "vm_kstat.vk_mem_total",
        "vm_kstat.vk_alloc", "vm_kstat.vk_fail", "vm_next"),
    "vmem_seg_t": (
        "vs_start", "vs_end", "vs_knext", "vs_anext", "vs_aprev",
        "vs_type", "vs_import", "vs_direct"),
    "kmem_buftag_t": ("bt_redzone", "bt_bxstat", "bt_cache"),
    "kmem_bufctl_audit_t": (
        "bc_addr", "bc_cache", "bc_slab", "bc_thread", "bc_timestamp",
        "bc_event", "bc_depth", "bc_stack"),
    "kmem_contents_t": (
        "kc_addr", "kc_cache", "kc_timestamp", "kc_size", "kc_data"),
    "kmem_log_t": ("log_base", "log_recsize", "log_nrecs", "log_next"),
    "kmem_owner_t": (),
}

# The globals every command may read (docs/internals.md).
REQUIRED_SYMBOLS = (
    "kmem_layout_version", "kmem_cache_list", "kmem_cpu_list", "vmem_list",
    "kmem_heap_arena", "kmem_default_arena", "kmem_oversize_arena",
    "kmem_metadata_arena", "kmem_hash_arena", "kmem_logs", "kmi_ready",
    "kmem_owner_root")


class KmemError(gdb.GdbError):
    """A command cannot go on; gdb prints the message, no traceback."""


class LayoutError(KmemError):
    """The program's kmem is not the one this script reads: a different
    layout version, or a type, field or symbol missing.  In batch mode
    (gdb -batch) gdb exits with status 1, whatever commands follow."""


def batch_mode():
    try:
        with open("/proc/self/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return any(a in (b"-batch", b"--batch", b"-batch-silent",
                     b"--batch-silent") for a in args)


def ptr(value):
    """%p as the library's formatter prints it (src/base/fmt.c)."""
    return "0x%x" % value


def line_limit(text, size=256):
    """What fits kmi_printf()'s line[256] (or a smaller snprintf)."""
    return text[:size - 1]


# ---- the inferior's memory ----

class Target:
    """The inferior's memory: raw reads and little-endian words."""

    def __init__(self):
        self.inferior = gdb.selected_inferior()
        if self.inferior.pid == 0:
            raise KmemError("kmem: no process and no core file")
        if gdb.lookup_type("void").pointer().sizeof != 8:
            raise KmemError("kmem: only 64-bit programs are supported")
        if "little" not in gdb.execute("show endian", to_string=True):
            raise KmemError("kmem: only little-endian programs are "
                            "supported")

    def is_core(self):
        conn = getattr(self.inferior, "connection", None)
        if conn is not None:
            return conn.type == "core"
        return "Local core dump file" in gdb.execute("info files",
                                                     to_string=True)

    def try_read(self, addr, size):
        if size <= 0:
            return b""
        try:
            return self.inferior.read_memory(addr, size).tobytes()
        except (gdb.MemoryError, OverflowError, ValueError):
            return None

    def read(self, addr, size):
        data = self.try_read(addr, size)
        if data is None:
            raise KmemError("kmem: cannot read %d bytes at 0x%x" %
                            (size, addr))
        return data

    def u64(self, addr):
        return int.from_bytes(self.read(addr, 8), "little")

    def words(self, addr, count):
        out = array.array("Q")
        if count > 0:
            out.frombytes(self.read(addr, 8 * count))
        return out


class Window:
    """One read of [base, base + size), serving word reads inside it."""

    def __init__(self, target, base, size):
        self.target = target
        self.base = base
        self.data = target.try_read(base, size) or b""

    def u64(self, addr):
        off = addr - self.base
        if 0 <= off and off + 8 <= len(self.data):
            return int.from_bytes(self.data[off:off + 8], "little")
        return self.target.u64(addr)


# ---- structure layouts from the debug info ----

class Field:
    """Where one field lies and how to decode it."""
    __slots__ = ("offset", "size", "kind", "signed", "count", "elsize")

    def __init__(self, offset, size, kind, signed=False, count=0, elsize=0):
        self.offset = offset
        self.size = size
        self.kind = kind            # int, str, array or struct
        self.signed = signed
        self.count = count
        self.elsize = elsize


def type_is_signed(t):
    if hasattr(t, "is_signed"):
        try:
            return t.is_signed
        except (ValueError, gdb.error):
            return False
    return t.code == gdb.TYPE_CODE_INT and not str(t).startswith("unsigned")


def describe_field(t, offset):
    t = t.strip_typedefs()
    if t.code == gdb.TYPE_CODE_ARRAY:
        elem = t.target().strip_typedefs()
        low, high = t.range()
        count = max(high - low + 1, 0)
        if elem.code == gdb.TYPE_CODE_INT and elem.sizeof == 1:
            return Field(offset, t.sizeof, "str")
        return Field(offset, t.sizeof, "array", type_is_signed(elem), count,
                     elem.sizeof)
    if t.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
        return Field(offset, t.sizeof, "struct")
    if t.code == gdb.TYPE_CODE_PTR:
        return Field(offset, t.sizeof, "int")
    return Field(offset, t.sizeof, "int", type_is_signed(t))


class Struct:
    """One C structure's layout: field paths ("cache_full.ml_list")."""

    def __init__(self, name):
        try:
            gtype = gdb.lookup_type(name).strip_typedefs()
        except gdb.error:
            raise LayoutError("kmem: the debug info has no type %s: is the "
                            "program built with -g and linked with kmem?"
                            % name)
        self.name = name
        self.size = gtype.sizeof
        self.fields = {}
        self.collect(gtype, 0, "")

    def collect(self, gtype, base, prefix):
        for f in gtype.fields():
            if not hasattr(f, "bitpos"):
                continue
            offset = base + f.bitpos // 8
            ftype = f.type.strip_typedefs()
            if not f.name:          # an anonymous struct or union
                self.collect(ftype, offset, prefix)
                continue
            path = prefix + f.name
            self.fields[path] = describe_field(ftype, offset)
            if ftype.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
                self.collect(ftype, offset, path + ".")

    def field(self, path):
        try:
            return self.fields[path]
        except KeyError:
            raise LayoutError("kmem: %s has no field %s: the library's layout "
                            "changed (update tools/gdb/kmem.py)" %
                            (self.name, path))

    def offset(self, path):
        return self.field(path).offset

    def decode(self, data, path):
        f = self.field(path)
        raw = data[f.offset:f.offset + f.size]
        if f.kind == "int":
            return int.from_bytes(raw, "little", signed=f.signed)
        if f.kind == "str":
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        if f.kind == "array":
            return [int.from_bytes(raw[i * f.elsize:(i + 1) * f.elsize],
                                   "little", signed=f.signed)
                    for i in range(f.count)]
        return raw


class Record:
    """One structure read from memory; fields decode on access."""
    __slots__ = ("struct", "data", "addr")

    def __init__(self, struct_, data, addr):
        self.struct = struct_
        self.data = data
        self.addr = addr

    def __getattr__(self, name):
        return self.struct.decode(self.data, name)

    def __getitem__(self, path):
        return self.struct.decode(self.data, path)

    def at(self, path):
        """The address of a field (or of an embedded structure)."""
        return self.addr + self.struct.offset(path)


def lookup_symbol(name):
    sym = gdb.lookup_global_symbol(name)
    if sym is None:
        sym = gdb.lookup_static_symbol(name)
    if sym is None:
        raise LayoutError("kmem: no symbol %s: is the program linked with "
                        "kmem and built with -g?" % name)
    return sym


def load_layouts():
    """Check the layout version, then every structure and field used."""
    version = int(lookup_symbol("kmem_layout_version").value())
    if version != LAYOUT_VERSION:
        raise LayoutError("kmem: the library's layout is version %d, this "
                        "kmem.py reads version %d: use the kmem.py "
                        "installed with the library" %
                        (version, LAYOUT_VERSION))
    for name in REQUIRED_SYMBOLS:
        lookup_symbol(name)
    layouts = {}
    for name, fields in REQUIRED.items():
        layouts[name] = Struct(name)
        for path in fields:
            layouts[name].field(path)
    return layouts


# ---- symbols, as dladdr(3) gives them ----

class ElfImage:
    """An ELF file's load segments, sections and dynamic symbols."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise ValueError("%s: not a 64-bit little-endian ELF file" % path)
        (self.entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         shstrndx) = struct.unpack_from("<QQQIHHHHHH", data, 24)
        self.loads = []
        for i in range(phnum):
            (ptype, pflags, poffset, pvaddr, _, pfilesz, pmemsz,
             _) = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
            if ptype == 1:      # PT_LOAD
                self.loads.append((pvaddr, pmemsz, pflags, poffset, pfilesz))
        self.sections = [struct.unpack_from("<IIQQQQIIQQ", data,
                                            shoff + i * shentsize)
                         for i in range(shnum if shoff else 0)]
        self.text_addr = self.section_addr(shstrndx, ".text")
        self.symbols, self.order = self.dynamic_symbols()
        self.matches = {}

    def section_name(self, shstrndx, sh_name):
        strtab = self.sections[shstrndx]
        start = strtab[4] + sh_name
        return self.data[start:self.data.index(b"\0", start)].decode()

    def section_addr(self, shstrndx, name):
        for sec in self.sections:
            if shstrndx < len(self.sections) and \
                    self.section_name(shstrndx, sec[0]) == name:
                return sec[3]
        return None

    def dynamic_symbols(self):
        """.dynsym's entries, and the order dladdr visits them in."""
        dynsym = [i for i, s in enumerate(self.sections) if s[1] == 11]
        if not dynsym:
            return [], []
        sec = self.sections[dynsym[0]]
        strtab = self.sections[sec[6]]
        symbols = []
        for i in range(sec[5] // 24):
            name, info, _, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", self.data, sec[4] + 24 * i)
            if name < strtab[5]:
                start = strtab[4] + name
                text = self.data[start:self.data.index(b"\0", start)]
            else:
                text = None
            symbols.append((text.decode("utf-8", "replace")
                            if text is not None else None,
                            value, size, shndx, info & 0xf))
        gnu = [s for s in self.sections if s[1] == 0x6ffffff6 and
               s[6] == dynsym[0]]
        if gnu:
            return symbols, self.gnu_hash_order(gnu[0], len(symbols))
        return symbols, list(range(len(symbols)))

    def gnu_hash_order(self, sec, nsyms):
        """glibc's determine_info(): buckets in order, each chain."""
        nbuckets, symoffset, bloomsize, _ = struct.unpack_from(
            "<IIII", self.data, sec[4])
        buckets_at = sec[4] + 16 + 8 * bloomsize
        chain_at = buckets_at + 4 * nbuckets
        order = []
        for b in range(nbuckets):
            index = struct.unpack_from("<I", self.data, buckets_at + 4 * b)[0]
            if index == 0:
                continue
            while index < nsyms:
                order.append(index)
                value = struct.unpack_from(
                    "<I", self.data, chain_at + 4 * (index - symoffset))[0]
                index += 1
                if value & 1:
                    break
        return order

    def contains(self, reladdr):
        """_dl_addr_inside_object(): inside one of the PT_LOADs."""
        return any((reladdr - vaddr) & MASK64 < memsz
                   for vaddr, memsz, _, _, _ in self.loads)

    def match(self, reladdr):
        """The symbol dladdr names for reladdr (None if none)."""
        if reladdr in self.matches:
            return self.matches[reladdr]
        best = None
        for index in self.order:
            name, value, size, shndx, stype = self.symbols[index]
            if name is None or stype == 6 or shndx == 0xfff1:
                continue            # STT_TLS, SHN_ABS
            if shndx == 0 and value == 0:
                continue            # undefined
            exact = (shndx == 0 or size == 0) and reladdr == value
            if reladdr < value or not (exact or reladdr < value + size):
                continue
            if best is None or best[1] < value:
                best = (name, value)
        self.matches[reladdr] = best
        return best


ELF_CACHE = {}


def elf_image(path):
    try:
        key = (path, os.stat(path).st_mtime)
    except OSError:
        return None
    if key not in ELF_CACHE:
        try:
            ELF_CACHE[key] = ElfImage(path)
        except (OSError, ValueError, struct.error, IndexError):
            ELF_CACHE[key] = None
    return ELF_CACHE[key]


class LoadedObject:
    """An ELF object as the dynamic linker has it: bias and name."""

    def __init__(self, image, bias, path):
        self.image = image
        self.bias = bias
        self.name = os.path.basename(path)
        first = min((v for v, _, _, _, _ in image.loads), default=0)
        self.base = (bias + (first & ~0xfff)) & MASK64   # l_map_start


class Symbolizer:
    """kmem_plat_symbol() without calling it: dladdr(pc - 1)."""

    def __init__(self):
        self.objects = []
        self.cache = {}
        self.add_executable()
        self.add_shared_libraries()

    def add_executable(self):
        path = gdb.current_progspace().filename
        image = elf_image(path) if path else None
        if image is None:
            return
        text = gdb.execute("info files", to_string=True)
        found = re.search(r"Entry point: (0x[0-9a-f]+)", text)
        bias = (int(found.group(1), 16) - image.entry) & MASK64 if found \
            else 0
        self.objects.append(LoadedObject(image, bias, path))

    def add_shared_libraries(self):
        text = gdb.execute("info sharedlibrary", to_string=True)
        for line in text.splitlines():
            found = re.match(r"^(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+\S+"
                             r"(?: \(\*\))?\s+(/.*)$", line)
            if not found:
                continue
            path = found.group(2).strip()
            image = elf_image(path)
            if image is None or image.text_addr is None:
                continue
            bias = (int(found.group(1), 16) - image.text_addr) & MASK64
            self.objects.append(LoadedObject(image, bias, path))

    def symbol(self, pc):
        return self.symbol_named(pc)[0]

    def symbol_named(self, pc):
        """kmem_plat_symbol(): the text, and whether a function was named."""
        if pc not in self.cache:
            text, named = self.lookup(pc)
            self.cache[pc] = (line_limit(text, 128), named)
        return self.cache[pc]

    def lookup(self, pc):
        addr = (pc - 1) & MASK64
        for obj in self.objects:
            reladdr = (addr - obj.bias) & MASK64
            if not obj.image.contains(reladdr):
                continue
            best = obj.image.match(reladdr)
            if best is not None:
                return ("%s+0x%x" % (best[0],
                                     (pc - obj.bias - best[1]) & MASK64), True)
            return ("%s+0x%x" % (obj.name, (pc - obj.base) & MASK64), False)
        return ("0x%x" % pc, False)


# ---- kmem's heap, as read from memory ----

class Kmem:
    """kmem's structures in the inferior, each read once per stop (once
    for a core): the commands take it as k."""

    def __init__(self):
        self.target = Target()
        self.s = load_layouts()
        self.cache_memo = {}
        self.symbolizer = None
        self.now = None

    # -- plumbing

    def record(self, type_name, addr):
        layout = self.s[type_name]
        return Record(layout, self.target.read(addr, layout.size), addr)

    def global_value(self, name):
        return int(lookup_symbol(name).value()) & MASK64

    def global_address(self, name):
        return int(lookup_symbol(name).value().address) & MASK64

    def symbol(self, pc):
        return self.symbol_named(pc)[0]

    def symbol_named(self, pc):
        if self.symbolizer is None:
            self.symbolizer = Symbolizer()
        return self.symbolizer.symbol_named(pc)

    def walk_list(self, head, limit=1 << 22):
        """The entries of a kmem_list_t ring, as addresses of links."""
        next_off = self.s["kmem_list_t"].offset("next")
        out = []
        lp = self.target.u64(head + next_off)
        while lp != head:
            if lp == 0 or len(out) > limit:
                raise KmemError("kmem: the list at 0x%x is broken" % head)
            out.append(lp)
            lp = self.target.u64(lp + next_off)
        return out

    def ready(self):
        return self.global_value("kmi_ready") != 0

    # -- caches, slabs, magazines

    def caches(self):
        if "caches" not in self.cache_memo:
            link = self.s["kmem_cache_t"].offset("cache_link")
            self.cache_memo["caches"] = [
                self.record("kmem_cache_t", lp - link)
                for lp in self.walk_list(self.global_address(
                    "kmem_cache_list"))]
        return self.cache_memo["caches"]

    def cache_name_at(self, addr):
        for cp in self.caches():
            if cp.addr == addr:
                return cp.cache_name
        return self.record("kmem_cache_t", addr).cache_name

    def cpus(self):
        if "cpus" not in self.cache_memo:
            link = self.s["kmem_cpu_t"].offset("cpu_link")
            self.cache_memo["cpus"] = [
                self.record("kmem_cpu_t", lp - link)
                for lp in self.walk_list(self.global_address(
                    "kmem_cpu_list"))]
        return self.cache_memo["cpus"]

    def cpu_slots(self, cp):
        """cp's slot in every per-CPU record that has one."""
        slot = cp.cache_slot
        size = self.s["kmem_cpu_cache_t"].size
        return [self.record("kmem_cpu_cache_t", cpu.cpu_cc + slot * size)
                for cpu in self.cpus() if slot != 0 and slot < cpu.cpu_ncc]

    def slabs(self, cp):
        """(slab, partial) for every slab, partial ones first."""
        key = ("slabs", cp.addr)
        if key not in self.cache_memo:
            link = self.s["kmem_slab_t"].offset("slab_link")
            out = []
            for name, partial in (("cache_partial", True),
                                  ("cache_complete", False)):
                for lp in self.walk_list(cp.at(name)):
                    out.append((self.record("kmem_slab_t", lp - link),
                                partial))
            self.cache_memo[key] = out
        return self.cache_memo[key]

    def is_small(self, cp):
        return not cp.cache_flags & KMF_HASH

    def slab_window(self, cp, sp):
        key = ("window", sp.addr)
        if key not in self.cache_memo:
            self.cache_memo[key] = Window(self.target, sp.slab_mem,
                                          cp.cache_slabsize)
        return self.cache_memo[key]

    def free_list(self, cp, sp, head, limit):
        """[(bufctl, buffer)] of a slab free list, at most limit + 1."""
        out = []
        next_off = self.s["kmem_bufctl_t"].offset("bc_next")
        addr_off = self.s["kmem_bufctl_t"].offset("bc_addr")
        small = self.is_small(cp)
        window = self.slab_window(cp, sp) if small else None
        bcp = head
        while bcp != 0 and len(out) <= limit:
            if small:
                buf = (bcp - cp.cache_bufctl) & MASK64
                off = (buf - sp.slab_base) & MASK64
                if off % cp.cache_chunksize != 0 or \
                        off // cp.cache_chunksize >= sp.slab_chunks:
                    self.cache_memo[("damaged", sp.addr)] = True
                    break   # slab_bufctl_in_slab(): a damaged list
                out.append((bcp, buf))
                bcp = window.u64(bcp + next_off)
            else:
                out.append((bcp, self.target.u64(bcp + addr_off)))
                bcp = self.target.u64(bcp + next_off)
        return out

    def slab_free_lists(self, cp, sp):
        """The buffers on slab_head and on slab_raw (two lists)."""
        key = ("free", sp.addr)
        if key not in self.cache_memo:
            limit = sp.slab_chunks + 1
            self.cache_memo[key] = (
                self.free_list(cp, sp, sp.slab_head, limit),
                self.free_list(cp, sp, sp.slab_raw, limit))
            if sum(map(len, self.cache_memo[key])) > sp.slab_chunks:
                self.cache_memo[("damaged", sp.addr)] = True
        return self.cache_memo[key]

    def slab_damaged(self, cp, sp):
        """Did a free list of sp leave its slab, or loop?"""
        self.slab_free_lists(cp, sp)
        return self.cache_memo.get(("damaged", sp.addr), False)

    def large_cached(self):
        """The freed large buffers kmem keeps (kmem_large_cache), as
        (start, end) pairs: free, though allocated in vmem's terms."""
        lc = lookup_symbol("kmem_large_cache").value()
        out = set()
        for i in range(min(int(lc["lc_n"]), int(lc["lc_ent"].type.range()[1]) + 1)):
            e = lc["lc_ent"][i]
            start = int(e["le_addr"]) & MASK64
            out.add((start, (start + int(e["le_size"])) & MASK64))
        return out

    def magazine_rounds(self, mag, count):
        if mag == 0 or count <= 0:
            return []
        off = self.s["kmem_magazine_t"].offset("mag_round")
        return list(self.target.words(mag + off, count))

    def magazine(self, mag):
        return self.record("kmem_magazine_t", mag)

    def cpu_rounds(self, cp, capped=True):
        """The rounds of cp's per-CPU loaded and previous magazines, and
        of the full magazines of each slot's reserve."""
        out = []
        for ccp in self.cpu_slots(cp):
            for mag, rounds in ((ccp.cc_loaded, ccp.cc_rounds),
                                (ccp.cc_ploaded, ccp.cc_prounds)):
                if mag == 0:
                    continue
                if capped:
                    rounds = min(rounds, self.magazine(mag).mag_size)
                out.extend(self.magazine_rounds(mag, rounds))
            out.extend(self.reserve_rounds(ccp))
        return out

    def reserve_rounds(self, ccp):
        """The rounds of a slot's reserve: cc_nrfull full magazines."""
        out = []
        mag = ccp.cc_rfull
        for _ in range(ccp.cc_nrfull):
            if mag == 0:
                break
            mp = self.magazine(mag)
            out.extend(self.magazine_rounds(mag, mp.mag_size))
            mag = mp.mag_next
        return out

    def maglist(self, first, count_field):
        out = []
        mag = first
        while mag != 0:
            mp = self.magazine(mag)
            out.extend(self.magazine_rounds(mag, mp[count_field]))
            mag = mp.mag_next
            if len(out) > 1 << 26:
                raise KmemError("kmem: a magazine list at 0x%x loops" %
                                first)
        return out

    def depot_rounds(self, cp):
        return self.maglist(cp["cache_full.ml_list"], "mag_size")

    def detached_rounds(self, cp):
        return self.maglist(cp.cache_detached, "mag_rounds")

    def allocated_buffers(self, cp):
        """cp's allocated buffers: handed out by slabs, not rounds."""
        bufs = []
        if self.is_small(cp):
            for sp, _ in self.slabs(cp):
                if self.slab_damaged(cp, sp):
                    continue        # left out, as the library does
                head, raw = self.slab_free_lists(cp, sp)
                free = set(b for _, b in head) | set(b for _, b in raw)
                for i in range(min(sp.slab_bump, sp.slab_chunks)):
                    buf = sp.slab_base + i * cp.cache_chunksize
                    if buf not in free:
                        bufs.append(buf)
        elif cp.cache_hash_table != 0:
            next_off = self.s["kmem_bufctl_t"].offset("bc_next")
            addr_off = self.s["kmem_bufctl_t"].offset("bc_addr")
            for bcp in self.target.words(cp.cache_hash_table,
                                         cp.cache_hash_mask + 1):
                while bcp != 0:
                    bufs.append(self.target.u64(bcp + addr_off))
                    bcp = self.target.u64(bcp + next_off)
        rounds = set(self.cpu_rounds(cp) + self.depot_rounds(cp) +
                     self.detached_rounds(cp))
        return sorted(b for b in bufs if b not in rounds)

    # -- arenas and segments

    def arenas(self):
        if "arenas" not in self.cache_memo:
            out = []
            vmp = self.global_value("vmem_list")
            while vmp != 0:
                out.append(self.record("vmem_t", vmp))
                vmp = out[-1].vm_next
                if len(out) > 1 << 16:
                    raise KmemError("kmem: vmem_list loops")
            self.cache_memo["arenas"] = out
        return self.cache_memo["arenas"]

    def arena_at(self, addr):
        for vmp in self.arenas():
            if vmp.addr == addr:
                return vmp
        return self.record("vmem_t", addr)

    def segments(self, vmp):
        """Every segment on the arena list, in span order."""
        key = ("segs", vmp.addr)
        if key not in self.cache_memo:
            head = vmp.at("vm_seg0")
            out = []
            vsp = vmp["vm_seg0.vs_anext"]
            while vsp != head:
                if vsp == 0 or len(out) > 1 << 24:
                    raise KmemError("kmem: the segment list of arena %s "
                                    "is broken" % vmp.vm_name)
                out.append(self.record("vmem_seg_t", vsp))
                vsp = out[-1].vs_anext
            self.cache_memo[key] = out
        return self.cache_memo[key]

    def source_depth(self, vmp, limit):
        depth = 0
        src = vmp.vm_source
        while src != 0 and depth < limit:
            depth += 1
            src = self.arena_at(src).vm_source
        return depth

    def root_arena(self, vmp):
        for _ in range(64):
            if vmp.vm_source == 0:
                break
            vmp = self.arena_at(vmp.vm_source)
        return vmp

    # -- audit records and time

    def audit(self, addr):
        return self.record("kmem_bufctl_audit_t", addr)

    def audit_stack(self, a):
        depth = min(a.bc_depth, KMEM_STACK_MAX)
        return list(self.target.words(a.at("bc_stack"), depth))

    def log(self, index):
        size = self.s["kmem_log_t"].size
        return self.record("kmem_log_t",
                           self.global_address("kmem_logs") + index * size)

    def log_records(self, index):
        """The addresses of a log's records, newest first."""
        lp = self.log(index)
        if lp.log_base == 0 or lp.log_nrecs == 0:
            return None
        newest = lp.log_next
        out = []
        i = newest
        while i > 0 and newest - (i - 1) <= lp.log_nrecs:
            i -= 1
            out.append(lp.log_base + (i % lp.log_nrecs) * lp.log_recsize)
        return out

    def newest_timestamp(self):
        """'now' for T-...: the newest transaction anyone recorded."""
        if self.now is None:
            self.now = max(self.newest_logged(), self.newest_audited()
                           if self.log(0).log_base == 0 else 0)
        return self.now

    def newest_logged(self):
        newest = 0
        ts_audit = self.s["kmem_bufctl_audit_t"].offset("bc_timestamp")
        ts_contents = self.s["kmem_contents_t"].offset("kc_timestamp")
        for index in range(len(KMEM_LOGS)):
            records = self.log_records(index)
            if records:
                off = ts_contents if index == 1 else ts_audit
                newest = max(newest, self.target.u64(records[0] + off))
        return newest

    def newest_audited(self):
        """The newest sound audit record of any buffer (no log on)."""
        layout = self.s["kmem_bufctl_audit_t"]
        o_addr, o_cache, o_ts = (layout.offset("bc_addr"),
                                 layout.offset("bc_cache"),
                                 layout.offset("bc_timestamp"))
        newest = 0
        for cp in self.caches():
            if not cp.cache_flags & KMF_AUDIT:
                continue
            for sp, _ in self.slabs(cp):
                window = self.slab_window(cp, sp)
                for i in range(sp.slab_chunks):
                    buf = sp.slab_base + i * cp.cache_chunksize
                    bcp = buf + cp.cache_audit
                    if window.u64(bcp + o_addr) == buf and \
                            window.u64(bcp + o_cache) == cp.addr:
                        newest = max(newest, window.u64(bcp + o_ts))
        return newest


# ---- the kmem_audit_print() lines ----

def audit_lines(k, addr):
    """kmem_audit_print() of the record at addr, time from 'now'."""
    a = k.audit(addr)
    now = k.newest_timestamp()
    ago = now - a.bc_timestamp if now > a.bc_timestamp else 0
    cache = k.cache_name_at(a.bc_cache) if a.bc_cache else "kmem_oversize"
    lines = [line_limit("thread=%s  time=T-%d.%09d  slab=%s  cache: %s" % (
        ptr(a.bc_thread), ago // 1000000000, ago % 1000000000,
        ptr(a.bc_slab), cache))]
    for pc in k.audit_stack(a):
        lines.append(line_limit("    %s" % k.symbol(pc)))
    return lines


# ---- kmem kmastat: kmem_kmastat() ----

class Snapshot:
    """kmem_snapshot(): one cache's numbers from its three layers."""

    def __init__(self, k, cp):
        cpu_rounds = 0
        cpu_free = 0
        for ccp in k.cpu_slots(cp):
            cpu_rounds += (ccp.cc_rounds & MASK64) + \
                (ccp.cc_prounds & MASK64) + ccp.cc_nrfull * ccp.cc_magsize
            cpu_free += ccp.cc_free
        self.cpu_rounds = cpu_rounds & MASK64
        self.depot_rounds = cp["cache_full.ml_capacity"]
        free = (cpu_free + cp.cache_cpu_free) & MASK64
        self.buftotal = cp.cache_buftotal
        self.bufslab = cp.cache_bufslab
        self.slab_create = cp.cache_slab_create
        self.slab_destroy = cp.cache_slab_destroy
        self.alloc_fail = cp.cache_alloc_fail
        free -= min(cp.cache_free_uncounted, free)
        self.free = free
        self.alloc = (free + self.inuse()) & MASK64

    def avail(self):
        return (self.bufslab + self.cpu_rounds + self.depot_rounds) & MASK64

    def inuse(self):
        avail = self.avail()
        return self.buftotal - avail if self.buftotal > avail else 0


KMASTAT_RULE = ("------------------------- ------ --------- --------- "
                "------------ ------------ -----")
KMASTAT_ROW = "%-25s %6s %9s %9s %12s %12s %5s"


def kmastat_lines(k):
    lines = [KMASTAT_ROW % ("cache", "buf", "buf", "buf", "memory",
                            "alloc", "alloc"),
             KMASTAT_ROW % ("name", "size", "in use", "total", "in use",
                            "succeed", "fail"),
             KMASTAT_RULE]
    total = [0, 0, 0]
    for vmp in k.arenas():
        sub = [0, 0, 0]
        for cp in k.caches():
            if cp.cache_arena != vmp.addr:
                continue
            ks = Snapshot(k, cp)
            mem = ((ks.slab_create - ks.slab_destroy) * cp.cache_slabsize) \
                & MASK64
            lines.append(line_limit(
                "%-25s %6d %9d %9d %12d %12d %5d" % (
                    cp.cache_name, cp.cache_bufsize, ks.inuse(), ks.buftotal,
                    mem, ks.alloc, ks.alloc_fail)))
            sub = [(sub[0] + mem) & MASK64, (sub[1] + ks.alloc) & MASK64,
                   (sub[2] + ks.alloc_fail) & MASK64]
        if sub[1] == 0 and sub[0] == 0:
            continue
        lines.append(line_limit("%-25s %6s %9s %9s %12d %12d %5d" % (
            "Total [%s]" % vmp.vm_name, "", "", "", sub[0], sub[1], sub[2])))
        lines.append(KMASTAT_RULE)
        total = [(t + s) & MASK64 for t, s in zip(total, sub)]
    lines.append("%-25s %6s %9s %9s %12d %12d %5d" % (
        "Total", "", "", "", total[0], total[1], total[2]))
    lines.append("")
    lines.extend(vmem_lines(k))
    lines.append("")
    lines.extend(memstat_lines(k))
    return lines


def memstat_lines(k):
    """kmem_memstat() and the three lines kmem_kmastat() ends with."""
    sym = lookup_symbol("vmem_pages").value()
    budget = int(sym["vp_budget"])
    reserve = min(budget // VMEM_RESERVE_FRACTION, VMEM_RESERVE_MAX)
    mapped, peak, fail = (int(sym["vp_mapped"]), int(sym["vp_peak"]),
                          int(sym["vp_fail"]))
    inuse = cached = arena_free = 0
    if k.ready():
        for cp in k.caches():
            if cp.cache_cflags & KMC_NOTOUCH:
                continue
            ks = Snapshot(k, cp)
            inuse += ks.inuse() * cp.cache_bufsize
            cached += ks.avail() * cp.cache_chunksize
        oversize = k.arena_at(k.global_value("kmem_oversize_arena"))
        inuse = (inuse + oversize["vm_kstat.vk_mem_inuse"]) & MASK64
        cached &= MASK64
        for name in ("kmem_heap_arena", "kmem_default_arena",
                     "kmem_oversize_arena"):
            vmp = k.arena_at(k.global_value(name))
            arena_free += vmp["vm_kstat.vk_mem_total"] - \
                vmp["vm_kstat.vk_mem_inuse"]
        arena_free &= MASK64
    return [
        "memory budget (physmem) %14d  reserve %12d  refused %d" % (
            budget, reserve, fail),
        "mapped now %14d  peak %14d  in use %14d" % (mapped, peak, inuse),
        "cached in free buffers %14d  free in arenas %14d" % (
            cached, arena_free)]


# ---- kmem vmem: vmem_print() ----

def vmem_lines(k):
    lines = ["%-26s %14s %14s %14s %13s %6s" % (
        "vmem name", "memory in use", "memory total", "memory import",
        "alloc succeed", "fail"),
        "-------------------------- -------------- -------------- "
        "-------------- ------------- ------"]
    for vmp in k.arenas():
        name = " " * (2 * k.source_depth(vmp, 8)) + vmp.vm_name[:30]
        lines.append(line_limit("%-26s %14d %14d %14d %13d %6d" % (
            name, vmp["vm_kstat.vk_mem_inuse"], vmp["vm_kstat.vk_mem_total"],
            vmp["vm_kstat.vk_mem_import"], vmp["vm_kstat.vk_alloc"],
            vmp["vm_kstat.vk_fail"])))
    return lines


# ---- kmem cache: ::kmem_cache ----

def cache_lines(k, wanted):
    lines = ["%-16s %-25s %4s %6s %8s %8s" % (
        "ADDR", "NAME", "FLAG", "CFLAG", "BUFSIZE", "BUFTOTL")]
    for cp in k.caches():
        if wanted is None or wanted in (cp.cache_name, cp.addr):
            lines.append("%016x %-25s %04x %06x %8d %8d" % (
                cp.addr, cp.cache_name, cp.cache_flags & MASK32,
                cp.cache_cflags & MASK32, cp.cache_bufsize,
                cp.cache_buftotal))
    if len(lines) == 1 and wanted is not None:
        raise KmemError("kmem: no cache %s" % (
            wanted if isinstance(wanted, str) else ptr(wanted)))
    return lines


# ---- kmem vmem_seg: ::vmem_seg ----

SEGMENT_TYPES = {VMEM_ALLOC: "ALLC", VMEM_FREE: "FREE", VMEM_SPAN: "SPAN",
                 VMEM_ROTOR: "ROTR", VMEM_WALKER: "WLKR"}


def vmem_seg_lines(k, segments):
    lines = ["%-16s %4s %-16s %-16s %s" % (
        "ADDR", "TYPE", "START", "END", "SIZE")]
    for vs in segments:
        lines.append("%016x %4s %016x %016x %d" % (
            vs.addr, SEGMENT_TYPES.get(vs.vs_type, "%4x" % vs.vs_type),
            vs.vs_start, vs.vs_end, (vs.vs_end - vs.vs_start) & MASK64))
    return lines


# ---- kmem whatis: kmem_whatis() ----

def slab_find(k, cp, addr):
    """kmi_slab_find(): the slab whose chunks hold addr, and the chunk."""
    for sp, _ in k.slabs(cp):
        off = (addr - sp.slab_base) & MASK64
        if off < sp.slab_chunks * cp.cache_chunksize:
            return sp, sp.slab_base + off - off % cp.cache_chunksize
    return None, None


def cache_holding(k, addr):
    """kmi_cache_holding(): the cache with the smallest chunks."""
    best, best_chunk = None, None
    for cp in k.caches():
        sp, chunk = slab_find(k, cp, addr)
        if sp is not None and (best is None or
                               cp.cache_chunksize < best.cache_chunksize):
            best, best_chunk = cp, chunk
    return best, best_chunk


def slab_holds_free(k, cp, sp, chunk):
    """whatis_slab_free(): on a free list, or past a small slab's bump."""
    head, raw = k.slab_free_lists(cp, sp)
    if any(buf == chunk for _, buf in head + raw):
        return True
    return k.is_small(cp) and \
        (chunk - sp.slab_base) // cp.cache_chunksize >= sp.slab_bump


def cached_in_magazine(k, cp, chunk):
    """whatis_cached(): a per-CPU or depot round."""
    for ccp in k.cpu_slots(cp):
        if chunk in k.magazine_rounds(ccp.cc_loaded, ccp.cc_rounds) or \
                chunk in k.magazine_rounds(ccp.cc_ploaded, ccp.cc_prounds) or \
                chunk in k.reserve_rounds(ccp):
            return True
    return chunk in k.depot_rounds(cp)


def buftag_word(k, cp, buf, name):
    return k.target.u64(buf + cp.cache_buftag +
                        k.s["kmem_buftag_t"].offset(name))


def whatis_cache_lines(k, cp, chunk, addr):
    sp, _ = slab_find(k, cp, chunk)
    free = sp is None or (not cp.cache_flags & KMF_BUFTAG and
                          slab_holds_free(k, cp, sp, chunk))
    if sp is not None and cp.cache_flags & KMF_BUFTAG:
        free = buftag_word(k, cp, chunk, "bt_bxstat") != \
            chunk ^ KMEM_BUFTAG_ALLOC
    elif not free:
        free = cached_in_magazine(k, cp, chunk)
    bca = chunk + cp.cache_audit if cp.cache_flags & KMF_AUDIT and \
        sp is not None else None
    if bca is not None and k.audit(bca).bc_event == 0:
        bca = None      # never handed out: no transaction to show
    off = (addr - chunk) & MASK64
    state = "freed from" if free else "allocated from"
    if bca is not None:
        line = "%s is %s+0x%x, bufctl %s %s %s" % (
            ptr(addr), ptr(chunk), off, ptr(bca), state, cp.cache_name)
    else:
        line = "%s is %s+0x%x, %s %s" % (ptr(addr), ptr(chunk), off, state,
                                          cp.cache_name)
    if off >= cp.cache_bufsize:
        line += " (past the buffer: its redzone or tag)"
    lines = [line_limit(line, 160)]
    if bca is not None:
        lines.extend(audit_lines(k, bca))
    return lines


def arena_holding(k, addr):
    """whatis_arena(): the innermost arena segment holding addr."""
    best = None
    for vmp in k.arenas():
        if vmp.vm_cflags & VMC_IDENTIFIER:
            continue        # numbers, not addresses
        depth = k.source_depth(vmp, 16)
        for kind in (VMEM_ALLOC, VMEM_FREE):
            found = None
            for vs in k.segments(vmp):
                if vs.vs_type & kind & (VMEM_ALLOC | VMEM_FREE | VMEM_SPAN) \
                        and vs.vs_start <= addr < vs.vs_end:
                    found = vs
            if found is not None and (best is None or depth > best[1]):
                best = (vmp, depth, kind, found)
    return best


def whatis_lines(k, addr):
    if not k.ready():
        return []
    cp, chunk = cache_holding(k, addr)
    if cp is not None:
        return whatis_cache_lines(k, cp, chunk, addr)
    best = arena_holding(k, addr)
    if best is not None:
        vmp, _, kind, vs = best
        # A freed large buffer that kmem keeps (large.c) is free.
        kept = kind == VMEM_ALLOC and \
            vmp.addr == k.global_value("kmem_oversize_arena") and \
            (vs.vs_start, vs.vs_end) in k.large_cached()
        return [line_limit("%s is %s+0x%x, %s the %s vmem arena%s" % (
            ptr(addr), ptr(vs.vs_start), addr - vs.vs_start,
            "allocated from" if kind == VMEM_ALLOC and not kept
            else "freed from", vmp.vm_name,
            " (kept for reuse)" if kept else ""), 160)]
    return ["%s is in no kmem cache or vmem arena" % ptr(addr)]


# ---- kmem bufctl_audit: kmem_audit_print() ----

def bufctl_address(k, addr):
    """An audit bufctl's address: addr itself (a bufctl, a log record),
    or the audit record of the audited buffer addr lies in."""
    cp, chunk = cache_holding(k, addr)
    if cp is None:
        return addr
    if not cp.cache_flags & KMF_AUDIT:
        raise KmemError("kmem: %s is in a buffer of %s, which is not "
                        "audited (KMEM_DEBUG=audit)" % (ptr(addr),
                                                        cp.cache_name))
    return chunk + cp.cache_audit if addr - chunk < cp.cache_audit else addr


# ---- kmem log: kmem_log_walk() ----

def hexdump(data):
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        text = "".join(chr(c) if 32 <= c < 127 else "." for c in chunk)
        lines.append("    %04x  %-47s  %s" % (
            off, " ".join("%02x" % c for c in chunk), text))
    return lines


def log_lines(k, index):
    records = k.log_records(index)
    if records is None:
        raise KmemError("kmem: the %s log is off (KMEM_LOGGING=%s)" %
                        (KMEM_LOGS[index], KMEM_LOGS[index]))
    lines = []
    for rec in records:
        if index == 1:
            lines.extend(contents_lines(k, rec))
            continue
        a = k.audit(rec)
        lines.append("record %s: %s %s" % (
            ptr(rec), KMEM_AUDIT_EVENTS.get(a.bc_event,
                                            "event %d" % a.bc_event),
            ptr(a.bc_addr)))
        lines.extend(audit_lines(k, rec))
    return lines


def contents_lines(k, rec):
    kc = k.record("kmem_contents_t", rec)
    recsize = k.log(1).log_recsize
    size = min(kc.kc_size, max(recsize - kc.struct.offset("kc_data"), 0))
    now = k.newest_timestamp()
    ago = now - kc.kc_timestamp if now > kc.kc_timestamp else 0
    cache = k.cache_name_at(kc.kc_cache) if kc.kc_cache else "?"
    lines = ["record %s: contents of %s  cache: %s  size %d  "
             "time=T-%d.%09d" % (ptr(rec), ptr(kc.kc_addr), cache, size,
                                 ago // 1000000000, ago % 1000000000)]
    lines.extend(hexdump(k.target.read(kc.at("kc_data"), size)))
    return lines


# ---- kmem verify: kmem_verify() ----

def bufctl_in_slab(k, cp, sp, bcp, buf):
    off = (buf - sp.slab_base) & MASK64
    if buf < sp.slab_base or off % cp.cache_chunksize != 0 or \
            off // cp.cache_chunksize >= sp.slab_chunks:
        return False
    return k.is_small(cp) or k.target.u64(
        bcp + k.s["kmem_bufctl_t"].offset("bc_slab")) == sp.addr


def slab_is_valid(k, cp, sp):
    """kmi_slab_is_valid(): invariant 1 for one slab."""
    if sp.slab_cache != cp.addr or sp.slab_chunks == 0 or \
            k.slab_damaged(cp, sp):
        return False
    head, raw = k.slab_free_lists(cp, sp)
    for entries in (head, raw):
        for n, (bcp, buf) in enumerate(entries):
            if n > sp.slab_chunks or not bufctl_in_slab(k, cp, sp, bcp, buf):
                return False
    never = (sp.slab_chunks - sp.slab_bump) & MASK32 if k.is_small(cp) \
        else 0
    return len(head) == sp.slab_nhead and \
        (sp.slab_refcnt + len(head) + len(raw) + never) & MASK32 == \
        sp.slab_chunks


def slab_has_free(k, cp, sp):
    return sp.slab_head != 0 or sp.slab_raw != 0 or \
        (k.is_small(cp) and sp.slab_bump < sp.slab_chunks)


def cache_slabs_are_valid(k, cp):
    """kmi_cache_slabs_are_valid(): invariants 1-3 for a cache."""
    total = free = empty = constructed = 0
    for sp, partial in k.slabs(cp):
        if not slab_is_valid(k, cp, sp) or \
                slab_has_free(k, cp, sp) != partial:
            return False
        total += sp.slab_chunks
        free += (sp.slab_chunks - sp.slab_refcnt) & MASK32
        constructed += sp.slab_nhead
        empty += sp.slab_refcnt == 0
    return (total == cp.cache_buftotal and free == cp.cache_bufslab and
            empty == cp.cache_nempty and
            constructed == cp.cache_constructed_slab)


def verify_free_buffer(k, cp, buf):
    """verify_free_buffer(): None, or the line saying what is wrong."""
    tag = buf + cp.cache_buftag
    bt = k.s["kmem_buftag_t"]
    what = None
    where = buf
    if buftag_word(k, cp, buf, "bt_bxstat") != buf ^ KMEM_BUFTAG_FREE:
        what, where = "corrupt buftag", tag + bt.offset("bt_bxstat")
    elif buftag_word(k, cp, buf, "bt_cache") != cp.addr:
        what, where = "corrupt buftag", tag + bt.offset("bt_cache")
    elif cp.cache_flags & KMF_AUDIT and not audit_is_sound(k, cp, buf):
        what, where = "corrupt bufctl", buf + cp.cache_audit
    elif buftag_word(k, cp, buf, "bt_redzone") != KMEM_REDZONE_PATTERN:
        what, where = "corrupt redzone pattern", tag + bt.offset("bt_redzone")
    elif cp.cache_flags & KMF_DEADBEEF:
        count = min(cp.cache_buftag, cp.cache_verify) // 8
        for i, word in enumerate(k.target.words(buf, count)):
            if word != KMEM_FREE_PATTERN:
                what, where = "seems corrupted", buf + 8 * i
                break
    if what is None:
        return None
    return "buffer %s (free) %s, at %s" % (ptr(buf), what, ptr(where))


def audit_is_sound(k, cp, buf):
    a = k.audit(buf + cp.cache_audit)
    return a.bc_addr == buf and a.bc_cache == cp.addr and \
        a.bc_depth <= cp.cache_audit_depth


def verify_cache_lines(k, cp):
    lines = []
    problems = 0
    lists_ok = cache_slabs_are_valid(k, cp)
    if not lists_ok:
        lines.append("cache %s: slab lists do not match their counts" %
                     cp.cache_name)
        problems += 1
    corrupt = 0
    if cp.cache_flags & KMF_BUFTAG:
        free = []
        for sp, _ in k.slabs(cp):
            free.extend(buf for _, buf in k.slab_free_lists(cp, sp)[0])
        # The library purges the per-CPU magazines first; here their
        # rounds are checked where they are, after the depot's.
        free += k.depot_rounds(cp) + k.cpu_rounds(cp, capped=False) + \
            k.detached_rounds(cp)
        for buf in free:
            bad = verify_free_buffer(k, cp, buf)
            if bad is not None:
                lines.append(bad)
                corrupt += 1
    if corrupt != 0:
        lines.append("%-30s %s  %d corrupt buffers" % (
            cp.cache_name, ptr(cp.addr), corrupt))
    elif not lists_ok:
        lines.append("%-30s %s  damaged slab lists" % (
            cp.cache_name, ptr(cp.addr)))
    else:
        lines.append("%-30s %s  clean" % (cp.cache_name, ptr(cp.addr)))
    return lines, problems + corrupt


def arena_is_valid(k, vmp):
    """vmi_is_valid(): the arena's segments, lists, hash and counts."""
    inuse = total = nfree = nbusy = nwhole = ndirect = 0
    span = None
    expect = 0
    segs = k.segments(vmp)
    by_addr = {vs.addr: vs for vs in segs}
    head = vmp.at("vm_seg0")
    for i, vs in enumerate(segs):
        following = segs[i + 1].addr if i + 1 < len(segs) else head
        if vs.vs_anext != following:
            return False
        nxt = by_addr.get(vs.vs_anext)
        if nxt is not None and nxt.vs_aprev != vs.addr:
            return False
        if vs.vs_type == VMEM_SPAN:
            if span is not None and expect != span.vs_end:
                return False
            span, expect = vs, vs.vs_start
            total += vs.vs_end - vs.vs_start
        elif vs.vs_type in (VMEM_ALLOC, VMEM_FREE):
            if span is None or vs.vs_start != expect or \
                    vs.vs_end <= vs.vs_start or vs.vs_end > span.vs_end:
                return False
            expect = vs.vs_end
            if vs.vs_type == VMEM_ALLOC:
                inuse += vs.vs_end - vs.vs_start
                nbusy += 1
                ndirect += vs.vs_direct
            else:
                nfree += 1
                nwhole += vs.vs_aprev == span.addr and span.vs_import != 0 \
                    and span.vs_end - span.vs_start == vs.vs_end - vs.vs_start
                if nxt is not None and nxt.vs_type == VMEM_FREE:
                    return False
    if segs:
        last = by_addr.get(segs[-1].addr)
        if vmp["vm_seg0.vs_aprev"] != last.addr:
            return False
    if span is not None and expect != span.vs_end:
        return False
    freemap = vmp.vm_freemap
    for n, first in enumerate(vmp.vm_freelist):
        if bool((freemap >> n) & 1) != (first != 0):
            return False
        vsp = first
        while vsp != 0:
            vs = k.record("vmem_seg_t", vsp)
            if vs.vs_type != VMEM_FREE or \
                    (vs.vs_end - vs.vs_start).bit_length() - 1 != n:
                return False
            nfree -= 1
            vsp = vs.vs_knext
            if nfree < -(1 << 24):
                return False
    nhashed = 0
    for bucket in k.target.words(vmp.vm_hash_table, vmp.vm_hash_mask + 1):
        vsp = bucket
        while vsp != 0:
            vs = k.record("vmem_seg_t", vsp)
            if vs.vs_type != VMEM_ALLOC:
                return False
            nhashed += 1
            vsp = vs.vs_knext
            if nhashed > 1 << 24:
                return False
    return (nfree == 0 and nhashed == nbusy and nbusy == vmp.vm_nbusy and
            nwhole == vmp.vm_nwhole and ndirect == vmp.vm_qdirect and
            inuse == vmp["vm_kstat.vk_mem_inuse"] and
            total == vmp["vm_kstat.vk_mem_total"])


def verify_lines(k):
    if not k.ready():
        return [], 0
    lines = ["%-30s %-14s  %s" % ("Cache Name", "Addr", "Cache Integrity")]
    problems = 0
    for cp in k.caches():
        more, n = verify_cache_lines(k, cp)
        lines.extend(more)
        problems += n
    for vmp in k.arenas():
        if not arena_is_valid(k, vmp):
            lines.append("arena %s: segments do not match their lists, "
                         "hash or counts" % vmp.vm_name)
            problems += 1
    return lines, problems


# ---- kmem findleaks: kmem_findleaks() ----

OVERSIZE = 1 << 32      # the cache index of a kmem_oversize segment
# The library's leak scan keeps its state here (src/stats/findleaks.c).
PRIVATE_STATICS = ("leak_state",)


class Mtab:
    """The allocated buffers, sorted, with their marks."""

    def __init__(self, entries):
        entries.sort()
        self.bases = [e[0] for e in entries]
        self.limits = [e[1] for e in entries]
        self.caches = [e[2] for e in entries]
        self.marked = bytearray(len(entries))
        self.why = {}               # entry: (word's address, its entry)
        self.stack = []
        self.low = self.bases[0] if entries else 0
        self.high = max(self.limits) if entries else 0

    def mark(self, value, where, parent):
        i = bisect.bisect_right(self.bases, value) - 1
        if i >= 0 and value < self.limits[i] and not self.marked[i]:
            self.marked[i] = 1
            self.stack.append(i)
            self.why[i] = (where, parent)

    def mark_words(self, words, base, parent=None):
        """Mark what the words at base point to (parent: their entry)."""
        low, high = self.low, self.high
        for j, value in enumerate(words):
            if low <= value < high:
                self.mark(value, base + 8 * j, parent)

    def find(self, addr):
        i = bisect.bisect_right(self.bases, addr) - 1
        return i if i >= 0 and addr < self.limits[i] else None


class LeakScan:
    """The conservative mark, from gdb: mtab, roots, scan."""

    CHUNK = 1 << 20

    def __init__(self, k):
        self.k = k
        self.clients = [cp for cp in k.caches() if self.is_client(cp)]
        self.mtab = Mtab(self.entries())

    def is_client(self, cp):
        return cp.cache_arena != self.k.global_value("kmem_metadata_arena") \
            and not cp.cache_cflags & (KMC_QCACHE | KMC_IDENTIFIER)

    def readable(self, i):
        """leak_readable(): a KMC_NOTOUCH cache's buffers may not be memory."""
        index = self.mtab.caches[i]
        return index == OVERSIZE or \
            not self.clients[index].cache_cflags & KMC_NOTOUCH

    def entries(self):
        out = []
        for index, cp in enumerate(self.clients):
            for buf in self.k.allocated_buffers(cp):
                out.append((buf, buf + cp.cache_bufsize, index))
        oversize = self.k.arena_at(self.k.global_value("kmem_oversize_arena"))
        kept = self.k.large_cached()
        for vs in self.k.segments(oversize):
            if vs.vs_type == VMEM_ALLOC and \
                    (vs.vs_start, vs.vs_end) not in kept:
                out.append((vs.vs_start, vs.vs_end, OVERSIZE))
        return out

    # -- what is kmem's own memory

    def skip_ranges(self):
        k = self.k
        roots = {}
        arenas = [k.global_value("kmem_oversize_arena"),
                  k.global_value("kmem_metadata_arena")] + \
            [cp.cache_arena for cp in self.clients]
        for addr in arenas:
            root = k.root_arena(k.arena_at(addr))
            roots[root.addr] = root
        ranges = []
        for root in roots.values():
            ranges.extend((vs.vs_start, vs.vs_end) for vs in k.segments(root)
                          if vs.vs_type == VMEM_SPAN)
        leaf = KMEM_OWNER_LEAF_ENTRIES * k.s["kmem_owner_t"].size
        owner = lookup_symbol("kmem_owner_root").value()
        count = owner.type.range()[1] + 1
        for leafp in k.target.words(k.global_address("kmem_owner_root"),
                                    count):
            if leafp != 0:
                ranges.append((leafp, leafp + leaf))
        ranges.extend(self.vmem_structures())
        ranges.extend(self.private_state())
        return merge_ranges(ranges)

    def vmem_structures(self):
        """Every vmem_t and vmem_seg_t kmem knows: arenas, lists, pools."""
        k = self.k
        arena_size = k.s["vmem_t"].size
        seg_size = k.s["vmem_seg_t"].size
        ranges = []
        knext = k.s["vmem_seg_t"].offset("vs_knext")
        heads = []
        for vmp in k.arenas():
            ranges.append((vmp.addr, vmp.addr + arena_size))
            ranges.extend((vs.addr, vs.addr + seg_size)
                          for vs in k.segments(vmp))
            heads.append(vmp.vm_segfree)
        try:
            heads.append(int(lookup_symbol("vmem_segpool").value()))
        except KmemError:
            pass
        ranges.extend(self.segment_chunks())
        for vsp in heads:
            count = 0
            while vsp != 0 and count < 1 << 22:
                ranges.append((vsp, vsp + seg_size))
                vsp = k.target.u64(vsp + knext)
                count += 1
        return ranges

    def segment_chunks(self):
        """vmem_seg_chunks: every page run of segments, by its header."""
        try:
            vsp = int(lookup_symbol("vmem_seg_chunks").value())
        except KmemError:
            return []
        out = []
        while vsp != 0 and len(out) < 1 << 20:
            vs = self.k.record("vmem_seg_t", vsp)
            out.append((vs.vs_start, vs.vs_end))
            vsp = vs.vs_anext
        return out

    def private_state(self):
        """kmem's own statics the library's scan skips (its scan state)."""
        out = []
        for name in PRIVATE_STATICS:
            try:
                value = lookup_symbol(name).value()
            except KmemError:
                continue
            start = int(value.address) & MASK64
            out.append((start, start + value.type.sizeof))
        return out

    # -- the roots

    def regions(self):
        """(start, end) of every readable, writable mapping."""
        if self.k.target.is_core():
            return self.core_regions()
        out = []
        with open("/proc/%d/maps" % self.k.target.inferior.pid) as maps:
            for line in maps:
                fields = line.split()
                start, end = (int(x, 16) for x in fields[0].split("-"))
                path = fields[5] if len(fields) > 5 else ""
                if fields[1][:2] == "rw" and not is_device(path) \
                        and end - start < SHADOW_MIN:
                    out.append((start, end))
        return out

    def core_regions(self):
        text = gdb.execute("info files", to_string=True)
        found = re.search(r"Local core dump file:\s*`(.*)'", text)
        image = elf_image(found.group(1)) if found else None
        if image is None:
            raise KmemError("kmem: cannot read the core file's segments")
        return [(vaddr, vaddr + filesz)
                for vaddr, _, flags, _, filesz in image.loads
                if flags & 2 and filesz > 0 and filesz < SHADOW_MIN]

    def threads(self):
        """(stack pointer, [register values]) of every thread."""
        out = []
        selected = gdb.selected_thread()
        frame = gdb.selected_frame() if selected is not None else None
        level = frame.level() if frame is not None else 0
        try:
            for thread in self.k.target.inferior.threads():
                thread.switch()
                newest = gdb.newest_frame()
                values = []
                for reg in newest.architecture().registers("general"):
                    try:
                        values.append(int(newest.read_register(reg)) & MASK64)
                    except (gdb.error, ValueError, TypeError):
                        pass
                sp = int(newest.read_register("sp")) & MASK64
                out.append((sp, values))
        finally:
            if selected is not None:
                selected.switch()
                frame = gdb.newest_frame()  # Frame.select() prints nothing
                while frame is not None and frame.level() < level:
                    frame = frame.older()
                if frame is not None:
                    frame.select()
        return out

    def roots(self):
        """Ranges to scan, and loose words (registers)."""
        threads = self.threads()
        ranges = []
        for start, end in self.regions():
            sps = [sp for sp, _ in threads if start <= sp < end]
            ranges.append((min(sps), end) if sps else (start, end))
        ranges = subtract_ranges(ranges, self.skip_ranges())
        registers = [v for _, values in threads for v in values]
        return ranges, registers

    def kmem_roots(self):
        """Cache structures, per-CPU records, constructed free buffers."""
        k = self.k
        out = [(cp.addr, cp.addr + k.s["kmem_cache_t"].size)
               for cp in k.caches()]
        out += [(cpu.addr, cpu.addr + k.s["kmem_cpu_t"].size)
                for cpu in k.cpus()]
        for cp in self.clients:
            if cp.cache_constructor == 0 or cp.cache_cflags & KMC_NOTOUCH:
                continue
            free = k.cpu_rounds(cp) + k.depot_rounds(cp) + \
                k.detached_rounds(cp)
            for sp, _ in k.slabs(cp):
                free.extend(buf for _, buf in k.slab_free_lists(cp, sp)[0])
            out += [(buf, buf + cp.cache_bufsize) for buf in free]
        return out

    # -- the mark

    def scan(self, start, end):
        start = (start + 7) & ~7
        while start + 8 <= end:
            size = min(end - start, self.CHUNK) & ~7
            data = self.k.target.try_read(start, size)
            if data is None and size > 4096:
                size = min(size, 4096 - (start & 4095))
                data = self.k.target.try_read(start, size)
            if data is not None:
                words = array.array("Q")
                words.frombytes(data)
                self.mtab.mark_words(words, start)
            start += size
        self.drain()

    def drain(self):
        mtab = self.mtab
        while mtab.stack:
            i = mtab.stack.pop()
            if not self.readable(i):
                continue
            start, end = mtab.bases[i], mtab.limits[i]
            data = self.k.target.try_read(start, (end - start) & ~7)
            if data:
                words = array.array("Q")
                words.frombytes(data)
                mtab.mark_words(words, start, i)

    def vmem_roots(self):
        """leak_vmem_roots(): memory the program took from kmem's arenas
        (allocated segments under the heap, not kmem's own, not imported
        by another arena), less the slabs of client caches."""
        k = self.k
        heap = k.global_value("kmem_heap_arena")
        own = (heap, k.global_value("kmem_metadata_arena"),
               k.global_value("kmem_hash_arena"),
               k.global_value("kmem_oversize_arena"))

        def program(vmp):
            return vmp.addr not in own and k.root_arena(vmp).addr == heap

        imports = set()
        for vmp in k.arenas():
            if vmp.vm_source in (0, heap) or \
                    not program(k.arena_at(vmp.vm_source)):
                continue
            imports.update((vmp.vm_source, vs.vs_start, vs.vs_end)
                           for vs in k.segments(vmp)
                           if vs.vs_type == VMEM_SPAN)
        roots = [(vs.vs_start, vs.vs_end) for vmp in k.arenas()
                 if program(vmp) for vs in k.segments(vmp)
                 if vs.vs_type == VMEM_ALLOC and
                 (vmp.addr, vs.vs_start, vs.vs_end) not in imports]
        slabs = [(sp.slab_mem, sp.slab_mem + cp.cache_slabsize)
                 for cp in self.clients for sp, _ in k.slabs(cp)]
        return subtract_ranges(roots, merge_ranges(slabs))

    def run(self):
        if self.mtab.bases:
            ranges, registers = self.roots()
            for value in registers:
                if self.mtab.low <= value < self.mtab.high:
                    self.mtab.mark(value, None, None)
            self.drain()
            for start, end in ranges + self.kmem_roots() + \
                    self.vmem_roots():
                self.scan(start, end)
        return [i for i in range(len(self.mtab.bases))
                if not self.mtab.marked[i]]


def is_device(path):
    """maps_is_device(): a /dev file but /dev/zero and /dev/shm."""
    return path.startswith("/dev/") and not path.startswith("/dev/zero") \
        and not path.startswith("/dev/shm/")


def merge_ranges(ranges):
    out = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract_ranges(ranges, skips):
    """ranges less the (sorted, merged) skips."""
    out = []
    for start, end in ranges:
        i = bisect.bisect_right([s[1] for s in skips], start)
        while start < end and i < len(skips) and skips[i][0] < end:
            if skips[i][0] > start:
                out.append((start, skips[i][0]))
            start = max(start, skips[i][1])
            i += 1
        if start < end:
            out.append((start, end))
    return out


LEAK_KMEM_PREFIXES = ("kmi_", "vmi_", "kmem_", "vmem_")
LEAK_ENTRY_POINTS = ("malloc", "calloc", "realloc", "free", "aligned_alloc",
                     "posix_memalign", "memalign", "valloc", "pvalloc",
                     "reallocarray")
LEAK_CXX_NEW = ("_Znwm", "_Znam", "_Znwj", "_Znaj")


def frame_is_kmem(sym):
    """leak_frame_is_kmem(): kmem's frames and malloc's entry points."""
    return sym.startswith(LEAK_KMEM_PREFIXES + LEAK_CXX_NEW) or \
        any(sym.startswith(name + "+") for name in LEAK_ENTRY_POINTS)


class LeakGroup:
    def __init__(self, cache, stack):
        self.cache = cache
        self.stack = stack
        self.count = 0
        self.bytes = 0
        self.time = None
        self.addr = 0

    def audited(self):
        return len(self.stack) > 0 or (self.time or 0) != 0


def leak_groups(k, scan, leaks):
    """leak_group(): by cache and stack (audited) or by cache."""
    groups = {}
    order = []
    nleak = nbytes = 0
    mtab = scan.mtab
    for i in leaks:
        index = mtab.caches[i]
        base = mtab.bases[i]
        size = mtab.limits[i] - base
        cp = scan.clients[index] if index != OVERSIZE else None
        bca = k.audit(base + cp.cache_audit) \
            if cp is not None and cp.cache_flags & KMF_AUDIT else None
        stack = tuple(k.audit_stack(bca)) if bca is not None else ()
        nleak += 1
        nbytes += size
        key = (index, stack)
        if key not in groups:
            groups[key] = LeakGroup(index, stack)
            order.append(groups[key])
        lg = groups[key]
        lg.count += 1
        lg.bytes += size
        when = bca.bc_timestamp if bca is not None else 0
        if lg.time is None or when < lg.time:
            lg.time = when
            lg.addr = bca.addr if bca is not None else base
    return order, nleak, nbytes


def leak_caller(k, stack):
    """leak_name_caller(): the caller's text and index (len: none)."""
    caller = len(stack)
    for i, pc in enumerate(stack):
        text, named = k.symbol_named(pc)
        if not named:
            continue
        if not frame_is_kmem(text):
            return text, i
        caller = i + 1
    if caller < len(stack):
        return k.symbol(stack[caller]), caller
    return "?", caller


def leak_merge_groups(k, groups):
    """leak_merge_groups(): one group per cache and stack from the
    caller on (stacks that differ only inside kmem merge), then the
    order: audited oldest first, then by cache."""
    merged = {}
    kept = []
    for g in groups:
        g.caller, first = leak_caller(k, g.stack)
        key = (g.cache, g.stack[first:])
        into = merged.get(key)
        if into is None:
            merged[key] = g
            kept.append(g)
            continue
        into.count += g.count
        into.bytes += g.bytes
        if g.time < into.time:
            into.time, into.addr = g.time, g.addr
    kept.sort(key=lambda g: (0, g.time, 0) if g.audited()
              else (1, 0, g.cache))
    return kept


def findleaks_lines(k):
    if not k.ready():
        return ["   Total 0 buffers, 0 bytes"]
    scan = LeakScan(k)
    groups, nleak, nbytes = leak_groups(k, scan, scan.run())
    groups = leak_merge_groups(k, groups)
    lines = []
    for cp in scan.clients:
        damaged = sum(1 for sp, _ in k.slabs(cp)
                      if k.is_small(cp) and k.slab_damaged(cp, sp))
        if damaged:
            lines.append("findleaks: cache %s: %d slab%s with a damaged free "
                         "list left out (see kmem_verify)" % (
                             cp.cache_name, damaged,
                             "" if damaged == 1 else "s"))
    if nleak > 0:
        audited = any(len(g.stack) > 0 for g in groups)
        lines.append("%-24s %6s %18s %s" % (
            "CACHE", "LEAKED", "BUFCTL" if audited else "BUFFER", "CALLER"))
        for g in groups:
            name = "kmem_oversize" if g.cache == OVERSIZE else \
                scan.clients[g.cache].cache_name
            lines.append(line_limit("%-24s %6d %18s %s" % (
                name, g.count, ptr(g.addr) if g.addr else "0",
                g.caller)))
        lines.append("-" * 72)
    lines.append("   Total %d buffer%s, %d byte%s" % (
        nleak, "" if nleak == 1 else "s", nbytes, "" if nbytes == 1 else "s"))
    return lines


def entry_name(scan, i):
    index = scan.mtab.caches[i]
    name = "kmem_oversize" if index == OVERSIZE else \
        scan.clients[index].cache_name
    return "%s (%s)" % (ptr(scan.mtab.bases[i]), name)


def reached_lines(k, addr):
    """Why the buffer holding addr is no leak: the chain from a root."""
    scan = LeakScan(k)
    scan.run()
    mtab = scan.mtab
    i = mtab.find(addr)
    if i is None:
        return ["%s is in no allocated buffer of a client cache" % ptr(addr)]
    if not mtab.marked[i]:
        return ["%s leaked: nothing reaches it" % entry_name(scan, i)]
    lines = []
    while i is not None:
        where, parent = mtab.why[i]
        if where is None:
            lines.append("%s is reached from a thread's register" %
                         entry_name(scan, i))
        elif parent is None:
            lines.append("%s is reached from %s, a root" % (
                entry_name(scan, i), ptr(where)))
        else:
            lines.append("%s is reached from %s, in %s" % (
                entry_name(scan, i), ptr(where), entry_name(scan, parent)))
        i = parent
    return lines


# ---- the commands ----

STATE = {"generation": 0, "kmem": None, "built": -1}


def invalidate(*_):
    STATE["generation"] += 1


for _event in ("stop", "cont", "exited", "new_objfile", "clear_objfiles",
               "memory_changed", "register_changed", "inferior_call",
               "new_inferior", "new_thread"):
    if hasattr(gdb.events, _event):
        getattr(gdb.events, _event).connect(invalidate)


def kmem_state():
    """The heap as read now (one reading per stop, or for the core)."""
    if STATE["kmem"] is None or STATE["built"] != STATE["generation"]:
        STATE["kmem"] = None
        kmem = Kmem()
        STATE["kmem"], STATE["built"] = kmem, STATE["generation"]
    return STATE["kmem"]


def evaluate_address(expression):
    if not expression.strip():
        raise KmemError("kmem: an address expression is needed")
    if '"' in expression:
        # gdb would allocate the string in the program: a call into it.
        raise KmemError("kmem: no string literals: the commands never make "
                        "the program run")
    try:
        value = gdb.parse_and_eval(expression)
    except gdb.error as e:
        raise KmemError("kmem: %s" % e)
    code = value.type.strip_typedefs().code
    if code == gdb.TYPE_CODE_ARRAY:
        value = value.address
    elif code in (gdb.TYPE_CODE_FLT, gdb.TYPE_CODE_STRUCT,
                  gdb.TYPE_CODE_UNION, gdb.TYPE_CODE_VOID):
        raise KmemError("kmem: %s is not an address" % expression.strip())
    try:
        return int(value) & MASK64
    except gdb.error:
        return int(value.cast(gdb.lookup_type("unsigned long"))) & MASK64


def emit(lines):
    for line in lines:
        gdb.write(line + "\n")


class KmemCommand(gdb.Command):
    """Read kmem's heap from a process or a core (kmem-gdb(1)).

kmem kmastat                      cache and arena statistics
kmem cache [NAME|ADDR]            caches: address, flags, sizes
kmem vmem                         arena statistics
kmem vmem_seg ADDR|ARENA          a segment, or every segment of an arena
kmem whatis EXPR                  which cache or arena holds an address
kmem bufctl_audit EXPR            an audit record (or a buffer's)
kmem log [transaction|contents|fail]   a log, newest first
kmem verify                       check every cache and arena
kmem findleaks                    buffers no one points to"""

    def __init__(self):
        super().__init__("kmem", gdb.COMMAND_DATA, gdb.COMPLETE_COMMAND,
                         True)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("kmem: no subcommand %r (see help kmem)" %
                               arg.strip().split()[0])
        gdb.execute("help kmem", from_tty)


class KmemSubcommand(gdb.Command):
    """A kmem subcommand: errors become gdb errors."""

    name = None
    takes_argument = True

    def __init__(self):
        super().__init__("kmem " + self.name, gdb.COMMAND_DATA,
                         gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        if not self.takes_argument and arg.strip():
            raise KmemError("kmem %s takes no argument" % self.name)
        try:
            emit(self.run(kmem_state(), arg))
        except LayoutError as e:
            if batch_mode():
                gdb.write("%s\n" % e, gdb.STDERR)
                gdb.execute("quit 1")
            raise
        except KmemError:
            raise
        except (gdb.error, OSError) as e:
            raise KmemError("kmem %s: %s" % (self.name, e))

    def run(self, k, arg):
        raise NotImplementedError


class KmastatCommand(KmemSubcommand):
    """Print the ::kmastat table: every cache by arena, then the arenas.
Usage: kmem kmastat
The same lines as kmem_kmastat()."""
    name = "kmastat"
    takes_argument = False

    def run(self, k, arg):
        return kmastat_lines(k)


class CacheCommand(KmemSubcommand):
    """Print caches as ::kmem_cache does: ADDR NAME FLAG CFLAG BUFSIZE
BUFTOTL.
Usage: kmem cache [NAME|ADDR]"""
    name = "cache"

    def run(self, k, arg):
        arg = arg.strip()
        if not arg:
            return cache_lines(k, None)
        if any(cp.cache_name == arg for cp in k.caches()):
            return cache_lines(k, arg)
        try:
            return cache_lines(k, evaluate_address(arg))
        except KmemError:
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", arg):
                raise KmemError("kmem: no cache named %s" % arg)
            raise


class VmemCommand(KmemSubcommand):
    """Print every arena's statistics, indented by import depth.
Usage: kmem vmem
The same lines as vmem_print()."""
    name = "vmem"
    takes_argument = False

    def run(self, k, arg):
        return vmem_lines(k)


class VmemSegCommand(KmemSubcommand):
    """Print a vmem segment as ::vmem_seg does: ADDR TYPE START END SIZE.
Usage: kmem vmem_seg ADDR|ARENA
ADDR is a vmem_seg_t; given an arena (its vmem_t address or its name),
every segment of the arena, spans first, in address order."""
    name = "vmem_seg"

    def run(self, k, arg):
        arg = arg.strip()
        for vmp in k.arenas():
            if vmp.vm_name == arg:
                return vmem_seg_lines(k, k.segments(vmp))
        addr = evaluate_address(arg)
        for vmp in k.arenas():
            if vmp.addr == addr:
                return vmem_seg_lines(k, k.segments(vmp))
        for vmp in k.arenas():
            for vs in k.segments(vmp):
                if vs.addr == addr:
                    return vmem_seg_lines(k, [vs])
        raise KmemError("kmem: %s is no vmem segment of any arena (kmem "
                        "whatis says what it is)" % ptr(addr))


class WhatisCommand(KmemSubcommand):
    """Say which cache buffer or arena segment holds an address.
Usage: kmem whatis EXPR
The same lines as kmem_whatis(), the audit record's time relative to the
newest transaction recorded."""
    name = "whatis"

    def run(self, k, arg):
        return whatis_lines(k, evaluate_address(arg))


class BufctlAuditCommand(KmemSubcommand):
    """Print an audit record as kmem_audit_print() does.
Usage: kmem bufctl_audit EXPR
EXPR is an audit bufctl (as kmem whatis names it), a log record, or an
address inside an audited buffer (its bufctl is printed)."""
    name = "bufctl_audit"

    def run(self, k, arg):
        return audit_lines(k, bufctl_address(k, evaluate_address(arg)))


class LogCommand(KmemSubcommand):
    """Print a log's records, newest first.
Usage: kmem log [transaction|contents|fail]
Transaction and failure records print as kmem_audit_print() does; content
records as the buffer, its cache, the bytes saved and a hex dump."""
    name = "log"

    def run(self, k, arg):
        which = arg.strip() or "transaction"
        if which not in KMEM_LOGS:
            raise KmemError("kmem log: transaction, contents or fail")
        return log_lines(k, KMEM_LOGS.index(which))


class VerifyCommand(KmemSubcommand):
    """Check every cache's slabs and free buffers, and every arena.
Usage: kmem verify
The same lines as kmem_verify() (which purges the per-thread magazines
first; their rounds are checked here after the depot's)."""
    name = "verify"
    takes_argument = False

    def run(self, k, arg):
        return verify_lines(k)[0]


class FindleaksCommand(KmemSubcommand):
    """Find the allocated buffers nothing points to (a conservative scan).
Usage: kmem findleaks [-w EXPR]
The same report as kmem_findleaks(): leaks grouped by cache and
allocation stack, the oldest buffer's bufctl (or the lowest buffer)
shown.  With -w, why the buffer holding EXPR is no leak: the chain of
pointers from a root to it."""
    name = "findleaks"

    def run(self, k, arg):
        arg = arg.strip()
        if arg.startswith("-w"):
            return reached_lines(k, evaluate_address(arg[2:]))
        if arg:
            raise KmemError("kmem findleaks: usage: kmem findleaks [-w EXPR]")
        return findleaks_lines(k)


KmemCommand()
for _command in (KmastatCommand, CacheCommand, VmemCommand, VmemSegCommand,
                 WhatisCommand, BufctlAuditCommand, LogCommand, VerifyCommand,
                 FindleaksCommand):
    _command()
