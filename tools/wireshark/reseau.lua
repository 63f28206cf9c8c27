-- reseau.lua: a Wireshark dissector for the course's protocols, as reseau
-- speaks them (PROTOCOL.md is the specification):
--
--   reseau_adder  TCP 6001  the integer adder: frames of a 4-byte
--                           little-endian length and a payload, either
--                           pickle.dumps(list_of_ints) (protocols 0 to 5) or
--                           reseau's native format (FE 01 and postcard
--                           zigzag varints); replies are 4 raw bytes (pickle)
--                           or a native reply frame
--   reseau_echo   TCP 6000  echo: the bytes, as they are
--   reseau_chat   UDP 5000  the chat: one text datagram
--
-- Other ports: "Decode As..." in Wireshark, or with tshark
--   tshark -X lua_script:tools/wireshark/reseau.lua -d tcp.port==16001,reseau_adder ...
--
-- The adder's rules mirror core/src/adder/pickle.rs and native.rs: what the
-- server accepts is dissected opcode by opcode with the running sum; what it
-- refuses is shown as refused at the byte where the server stops reading,
-- with the server's own message, and the rest of the frame is not read (as
-- the server does not read it). Each item's bytes are the bytes `reseau
-- explain` gives the same row, so the two can be compared (tests/wireshark).
--
-- Wireshark 3.6 and 4.x, Lua 5.2 to 5.4 (no bit32: 5.4 has none). In Lua 5.2
-- numbers are doubles, so ints beyond 2^53 are computed with the small
-- decimal big-int below, or Wireshark's Int64/UInt64.

local adder = Proto("reseau_adder", "reseau integer adder")
local echo = Proto("reseau_echo", "reseau echo")
local chat = Proto("reseau_chat", "reseau chat")

local ADDER_PORT = 6001
local ECHO_PORT = 6000
local CHAT_PORT = 5000

---------------------------------------------------------------------------
-- Big ints: pickle ints go up to 128 bits and sums beyond; Lua 5.2 has only
-- doubles (exact to 2^53). A big int is { neg = bool, limb1, limb2, ... },
-- limbs of 7 decimal digits, least significant first, no zero limb on top;
-- zero has no limb. 10^7 per limb keeps limb * 256 + carry far below 2^53,
-- and printing in decimal is concatenation.
---------------------------------------------------------------------------

local BASE = 10000000

local function big_trim(x)
    while #x > 0 and x[#x] == 0 do x[#x] = nil end
    if #x == 0 then x.neg = false end
    return x
end

-- A big int from a non-negative Lua integer below 2^53.
local function big_small(n)
    local x = { neg = false }
    while n > 0 do
        x[#x + 1] = n % BASE
        n = math.floor(n / BASE)
    end
    return x
end

-- x = x * m + a, on the magnitude, in place (m and a small).
local function mag_mul_add(x, m, a)
    local carry = a
    for i = 1, #x do
        local v = x[i] * m + carry
        x[i] = v % BASE
        carry = math.floor(v / BASE)
    end
    while carry > 0 do
        x[#x + 1] = carry % BASE
        carry = math.floor(carry / BASE)
    end
end

local function mag_cmp(a, b)
    if #a ~= #b then return #a < #b and -1 or 1 end
    for i = #a, 1, -1 do
        if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
    end
    return 0
end

local function mag_add(a, b)
    local r, carry = { neg = false }, 0
    for i = 1, math.max(#a, #b) do
        local v = (a[i] or 0) + (b[i] or 0) + carry
        r[i] = v % BASE
        carry = math.floor(v / BASE)
    end
    if carry > 0 then r[#r + 1] = carry end
    return r
end

-- |a| - |b|, for |a| >= |b|.
local function mag_sub(a, b)
    local r, borrow = { neg = false }, 0
    for i = 1, #a do
        local v = a[i] - (b[i] or 0) - borrow
        if v < 0 then v, borrow = v + BASE, 1 else borrow = 0 end
        r[i] = v
    end
    return r
end

local function big_add(a, b)
    local r
    if a.neg == b.neg then
        r = mag_add(a, b)
        r.neg = a.neg
    elseif mag_cmp(a, b) >= 0 then
        r = mag_sub(a, b)
        r.neg = a.neg
    else
        r = mag_sub(b, a)
        r.neg = b.neg
    end
    return big_trim(r)
end

local function big_neg(a)
    local r = { neg = not a.neg }
    for i = 1, #a do r[i] = a[i] end
    return big_trim(r)
end

-- Signed comparison: -1, 0 or 1.
local function big_cmp(a, b)
    if a.neg ~= b.neg then return a.neg and -1 or 1 end
    local c = mag_cmp(a, b)
    return a.neg and -c or c
end

local function big_tostring(x)
    if #x == 0 then return "0" end
    local parts = { tostring(x[#x]) }
    for i = #x - 1, 1, -1 do parts[#parts + 1] = string.format("%07d", x[i]) end
    return (x.neg and "-" or "") .. table.concat(parts)
end

-- A canonical decimal ("0" or "-?[1-9][0-9]*"), already checked.
local function big_from_decimal(s)
    local neg = s:sub(1, 1) == "-"
    local x = { neg = false }
    for i = neg and 2 or 1, #s do mag_mul_add(x, 10, s:byte(i) - 48) end
    x.neg = neg
    return big_trim(x)
end

-- 256^n, computed once for each n (LONG1 and LONG4 need them for their
-- negative ints).
local POW256 = {}

local function big_pow256(n)
    if not POW256[n] then
        local x = big_small(1)
        for _ = 1, n do mag_mul_add(x, 256, 0) end
        POW256[n] = x
    end
    return POW256[n]
end

-- The two's-complement little-endian int in the `n` bytes of the string
-- `data` after `offset` (n <= 16 here: longer LONG1/LONG4 arguments are
-- reduced first).
local function big_from_le(data, offset, n)
    local x = { neg = false }
    for i = n, 1, -1 do mag_mul_add(x, 256, data:byte(offset + i)) end
    big_trim(x)
    if n > 0 and data:byte(offset + n) >= 0x80 then
        x = big_add(x, big_neg(big_pow256(n)))
    end
    return x
end

local I128_MAX = big_from_decimal("170141183460469231731687303715884105727")
local I128_MIN = big_from_decimal("-170141183460469231731687303715884105728")
local I64_MAX = big_from_decimal("9223372036854775807")
local I64_MIN = big_from_decimal("-9223372036854775808")
local U32_MAX = big_small(4294967295)
local ZERO = big_small(0)

local function big_within(x, lo, hi)
    return big_cmp(x, lo) >= 0 and big_cmp(x, hi) <= 0
end

-- A big int from a Lua integer (exact: under 2^53).
local function big_from_number(n)
    local x = big_small(math.abs(n))
    x.neg = n < 0 and #x > 0
    return x
end

-- An int of the list: a Lua number when small (BININT1, BININT2, BININT,
-- booleans, most native ints), a big int otherwise.
local function int_string(v)
    if type(v) == "number" then return string.format("%d", v) end
    return big_tostring(v)
end

-- The running sum of a frame's ints, and their count: big + small, where
-- small is a Lua number that stays exact (under 2^53 in magnitude) and big
-- a big int (nil for 0) that takes the big ints, and small when it would
-- leave that range. Most ints are small: adding one allocates nothing.
local EXACT = 2 ^ 53

local function new_sum()
    return { small = 0, big = nil, count = 0 }
end

local function sum_add(s, v)
    s.count = s.count + 1
    if type(v) == "number" then
        local t = s.small + v
        if t > -EXACT and t < EXACT then
            s.small = t
            return
        end
        v = big_from_number(v)
    end
    s.big = big_add(big_add(s.big or big_small(0), big_from_number(s.small)), v)
    s.small = 0
end

local function sum_big(s)
    if not s.big then return big_from_number(s.small) end
    return big_add(s.big, big_from_number(s.small))
end

local function sum_string(s)
    if not s.big then return int_string(s.small) end
    return big_tostring(sum_big(s))
end

---------------------------------------------------------------------------
-- Fields. Each "row" item spans the bytes `reseau explain` gives one row:
-- length, op (a pickle opcode and its argument), magic, version,
-- native_int, refused (the bytes the server does not read), reply,
-- reply_sum / reply_error (a native reply's body after FE 01).
---------------------------------------------------------------------------

-- CPython's names (pickletools) for every opcode byte, the refused ones too.
local OPCODE_NAMES = {
    [0x28] = "MARK", [0x2e] = "STOP", [0x30] = "POP", [0x31] = "POP_MARK", [0x32] = "DUP",
    [0x46] = "FLOAT", [0x49] = "INT", [0x4a] = "BININT", [0x4b] = "BININT1", [0x4c] = "LONG",
    [0x4d] = "BININT2", [0x4e] = "NONE", [0x50] = "PERSID", [0x51] = "BINPERSID",
    [0x52] = "REDUCE", [0x53] = "STRING", [0x54] = "BINSTRING", [0x55] = "SHORT_BINSTRING",
    [0x56] = "UNICODE", [0x58] = "BINUNICODE", [0x61] = "APPEND", [0x62] = "BUILD",
    [0x63] = "GLOBAL", [0x64] = "DICT", [0x7d] = "EMPTY_DICT", [0x65] = "APPENDS",
    [0x67] = "GET", [0x68] = "BINGET", [0x69] = "INST", [0x6a] = "LONG_BINGET",
    [0x6c] = "LIST", [0x5d] = "EMPTY_LIST", [0x6f] = "OBJ", [0x70] = "PUT", [0x71] = "BINPUT",
    [0x72] = "LONG_BINPUT", [0x73] = "SETITEM", [0x74] = "TUPLE", [0x29] = "EMPTY_TUPLE",
    [0x75] = "SETITEMS", [0x47] = "BINFLOAT", [0x80] = "PROTO", [0x81] = "NEWOBJ",
    [0x82] = "EXT1", [0x83] = "EXT2", [0x84] = "EXT4", [0x85] = "TUPLE1", [0x86] = "TUPLE2",
    [0x87] = "TUPLE3", [0x88] = "NEWTRUE", [0x89] = "NEWFALSE", [0x8a] = "LONG1",
    [0x8b] = "LONG4", [0x42] = "BINBYTES", [0x43] = "SHORT_BINBYTES",
    [0x8c] = "SHORT_BINUNICODE", [0x8d] = "BINUNICODE8", [0x8e] = "BINBYTES8",
    [0x8f] = "EMPTY_SET", [0x90] = "ADDITEMS", [0x91] = "FROZENSET", [0x92] = "NEWOBJ_EX",
    [0x93] = "STACK_GLOBAL", [0x94] = "MEMOIZE", [0x95] = "FRAME", [0x96] = "BYTEARRAY8",
    [0x97] = "NEXT_BUFFER", [0x98] = "READONLY_BUFFER",
}

local function opcode_name(code)
    return OPCODE_NAMES[code] or "unknown opcode"
end

local NATIVE_ERRORS = { [0] = "Malformed", [1] = "Overflow", [2] = "Version" }
local NATIVE_ERROR_TEXT = {
    Malformed = "the request is not a list of postcard i64 values",
    Overflow = "the sum does not fit in a 64-bit signed integer",
    Version = "the request's native format version is not supported",
}

local f = {
    length = ProtoField.uint32("reseau_adder.length", "Length", base.DEC, nil, nil,
        "struct.pack('I', n): the payload's length, little-endian"),
    format = ProtoField.string("reseau_adder.format", "Format"),
    pickle = ProtoField.none("reseau_adder.pickle", "Pickle payload"),
    native = ProtoField.none("reseau_adder.native", "Native payload"),
    message = ProtoField.string("reseau_adder.message", "Message",
        base.NONE, "request (to the server's port) or reply (from it)"),
    op = ProtoField.string("reseau_adder.op", "Pickle opcode", base.NONE,
        "a pickle opcode and its argument (CPython's pickletools name)"),
    opcode = ProtoField.uint8("reseau_adder.opcode", "Opcode", base.HEX, OPCODE_NAMES),
    proto = ProtoField.uint8("reseau_adder.proto", "Protocol"),
    frame_len = ProtoField.uint64("reseau_adder.frame_len", "Frame length"),
    memo = ProtoField.uint32("reseau_adder.memo", "Memo index"),
    arg_len = ProtoField.uint32("reseau_adder.arg_len", "Argument length"),
    text = ProtoField.string("reseau_adder.text", "Text argument"),
    int = ProtoField.string("reseau_adder.int", "Int", base.NONE,
        "an int of the list, in decimal (exact, up to 128 bits)"),
    running_sum = ProtoField.string("reseau_adder.running_sum", "Sum so far"),
    magic = ProtoField.uint8("reseau_adder.magic", "Magic", base.HEX),
    version = ProtoField.uint8("reseau_adder.version", "Version"),
    native_int = ProtoField.int64("reseau_adder.native_int", "Int (postcard zigzag varint)"),
    refused = ProtoField.string("reseau_adder.refused", "Refused", base.NONE,
        "the bytes the server does not read, and why"),
    refused_at = ProtoField.uint32("reseau_adder.refused_at", "Refused at byte", base.DEC, nil,
        nil, "the byte the server's verdict names, from the frame's first byte"),
    ints = ProtoField.uint32("reseau_adder.ints", "Ints"),
    hidden = ProtoField.uint32("reseau_adder.hidden", "Items not shown", base.DEC, nil, nil,
        "read and summed, past the 'Opcodes shown per frame' preference"),
    sum = ProtoField.string("reseau_adder.sum", "Sum", base.NONE,
        "the request's sum, which the server answers"),
    reply = ProtoField.uint32("reseau_adder.reply", "Reply (sum)", base.DEC, nil, nil,
        "struct.pack('I', total): 4 raw bytes, not framed"),
    reply_sum = ProtoField.int64("reseau_adder.reply_sum", "Reply: Sum"),
    reply_error = ProtoField.string("reseau_adder.reply_error", "Reply: Error"),
}
adder.fields = {
    f.length, f.format, f.pickle, f.native, f.message, f.op, f.opcode, f.proto, f.frame_len,
    f.memo, f.arg_len, f.text, f.int, f.running_sum, f.magic, f.version, f.native_int,
    f.refused, f.refused_at, f.ints, f.hidden, f.sum, f.reply, f.reply_sum, f.reply_error,
}

local ef = {
    refused = ProtoExpert.new("reseau_adder.refused.expert", "Request refused by the server",
        expert.group.PROTOCOL, expert.severity.WARN),
    frame_limit = ProtoExpert.new("reseau_adder.frame_limit.expert",
        "Frame over the server's default limit (64 MiB): it closes the connection",
        expert.group.PROTOCOL, expert.severity.WARN),
    bad_reply = ProtoExpert.new("reseau_adder.bad_reply.expert", "Not a valid native reply",
        expert.group.MALFORMED, expert.severity.ERROR),
}
adder.experts = { ef.refused, ef.frame_limit, ef.bad_reply }

-- A request of a million ints would be millions of tree items: past this
-- many per frame, opcodes are summed without an item each.
adder.prefs.max_shown = Pref.uint("Opcodes shown per frame", 100000,
    "Pickle opcodes (or native ints) shown per frame; the rest are read and summed")

local DEFAULT_MAX_FRAME = 67108864
local MAX_MEMO_INDEX = 65535
local HIGHEST_PROTOCOL = 5
-- An i128 has 39 digits: a text argument longer than this is refused.
local MAX_LINE = 48

---------------------------------------------------------------------------
-- The pickle payload. The decoder's state is the pickle stack's shape
-- (core/src/adder/pickle.rs, `Stack`): which opcodes may come next.
---------------------------------------------------------------------------

-- A refusal: the server's message, and the byte (frame offset) where it
-- stops reading (at = nil: at the end of the payload). `named` says whether
-- the server's verdict names that byte: a payload cut short is refused at
-- its end, not at the opcode it cuts. The opcode readers throw these.
local function refusal(message, at, named)
    return { refused = message, at = at, named = named ~= false and at ~= nil }
end

local function forbidden(code, at, payload_start)
    return refusal(string.format(
        "pickle opcode %s (0x%02x) at byte %d is not allowed: only a list of ints is accepted",
        opcode_name(code), code, at - payload_start), at)
end

local function misplaced(code, at, payload_start)
    return refusal(string.format("pickle opcode %s at byte %d does not fit a list of ints",
        opcode_name(code), at - payload_start), at)
end

-- The payload ends before STOP; `at`: the opcode cut short, if any.
local function truncated(at)
    return refusal("pickle payload ends before its STOP opcode", at, false)
end

-- The int opcodes move the stack as one more item (pickle.rs `int`).
local INT_MOVES = { marked = "marked", list = "item", list_marked = "list_marked" }

local function push_int(st, code, at)
    local next_stack = INT_MOVES[st.stack]
    if st.stack == "done" then
        error(refusal(string.format("bytes after the pickle's STOP opcode, at byte %d",
            at - st.payload_start), at))
    elseif not next_stack then
        error(misplaced(code, at, st.payload_start))
    end
    st.stack = next_stack
end

-- A memo opcode is only allowed right after the list (pickle.rs `memo`).
local function check_memo(st, code, at)
    if st.stack ~= "list" then error(misplaced(code, at, st.payload_start)) end
end

-- The stack moves of the structural opcodes: { from = to }.
local MOVES = {
    [0x28] = { empty = "marked", list = "list_marked" },   -- MARK
    [0x5d] = { empty = "list" },                            -- EMPTY_LIST
    [0x6c] = { marked = "list" },                           -- LIST
    [0x61] = { item = "list" },                             -- APPEND
    [0x65] = { list_marked = "list" },                      -- APPENDS
    [0x2e] = { list = "done" },                             -- STOP
}

-- Is a canonical decimal: "0" or "-?[1-9][0-9]*" (CPython would read more
-- forms, in other bases; the server refuses them all).
local function is_canonical(s)
    return s == "0" or s:match("^%-?[1-9]%d*$") ~= nil
end

local function bad_literal(st, at)
    return refusal(string.format(
        "pickle text number at byte %d is not a canonical decimal integer (no leading zero, '+', space, '_' or other base)",
        at - st.payload_start), at)
end

local function out_of_range(st, at)
    return refusal(string.format("pickle int at byte %d does not fit in 128 bits",
        at - st.payload_start), at)
end

-- The text argument of INT, LONG or PUT at `at + 1`, up to its "\n".
-- Returns the text and the opcode's whole length.
local function line_arg(st, code, at)
    local first = at + 1
    local avail = st.payload_end - first
    -- The newline within the first MAX_LINE + 1 bytes, if there.
    local newline = st.data:find("\n", first + 1, true)
    if newline and newline - 1 - first <= math.min(avail - 1, MAX_LINE) then
        local len = newline - 1 - first
        return st.data:sub(first + 1, first + len), len + 2
    end
    if avail > MAX_LINE then
        -- The 49th byte is not the newline: too long to be an i128 (or a
        -- memo index).
        if code == 0x70 then error(bad_literal(st, at)) end
        error(out_of_range(st, at))
    end
    error(truncated(at))
end


-- LONG1/LONG4's argument: n bytes of little-endian two's complement. The
-- low 16 bytes make the i128; any byte above must repeat the sign
-- (pickle.rs `LongBytes`).
local function long_value(st, first, n, at)
    if n <= 6 then
        -- Under 2^47: a Lua number is exact.
        local data, v = st.data, 0
        for i = first + n, first + 1, -1 do v = v * 256 + data:byte(i) end
        if v >= 2 ^ (8 * n - 1) then v = v - 2 ^ (8 * n) end
        return v
    end
    if n <= 16 then return big_from_le(st.data, first, n) end
    local value = big_from_le(st.data, first, 16)
    local fill = value.neg and 0xff or 0x00
    for i = first + 17, first + n do
        if st.data:byte(i) ~= fill then error(out_of_range(st, at)) end
    end
    return value
end

-- Reads the opcode at `at`: returns its length, and what it says as
-- { value = big int } for an int, { arg_field, arg_value } for the others.
-- Throws a refusal (the server's rule and message) for anything else.
-- The unsigned little-endian int in the n bytes after the opcode at `at`.
local function arg_le(st, at, n)
    if st.payload_end - at < 1 + n then error(truncated(at)) end
    local data, v = st.data, 0
    for i = at + 1 + n, at + 2, -1 do v = v * 256 + data:byte(i) end
    return v
end

-- What read_opcode says of a small int: one table for them all (it is
-- used before the next opcode is read), so that the common case allocates
-- nothing.
local SMALL_INT = {}

local function small_int(v)
    SMALL_INT.int = v
    return SMALL_INT
end

local function read_opcode(st, at)
    local data = st.data
    local code = data:byte(at + 1)
    local avail = st.payload_end - at
    local function le(n) return arg_le(st, at, n) end
    if code == 0x4b and st.stack == "list_marked" and avail >= 2 then
        -- The common case, CPython's MARK BININT1 ... APPENDS: no
        -- closure, no table.
        return 2, small_int(data:byte(at + 2))
    end
    if st.stack == "done" then
        error(refusal(string.format("bytes after the pickle's STOP opcode, at byte %d",
            at - st.payload_start), at))
    end
    if code == 0x80 and at == st.payload_start then          -- PROTO
        local protocol = le(1)
        if protocol > HIGHEST_PROTOCOL then
            error(refusal(string.format("pickle protocol %d is not supported (0 to %d are)",
                protocol, HIGHEST_PROTOCOL), at))
        end
        return 2, { field = f.proto, value = protocol }
    elseif code == 0x95 then                                 -- FRAME
        -- A length past 2^53 is past any payload: the double's precision
        -- does not matter for the check; the item shows the exact UInt64.
        local len = le(8)
        local frame_end = (at + 9 - st.payload_start) + len
        if frame_end > st.frame_end then st.frame_end = frame_end end
        return 9, { field = f.frame_len, uint64 = true }
    elseif code == 0x4b then                                 -- BININT1
        local v = le(1)
        push_int(st, code, at)
        return 2, small_int(v)
    elseif code == 0x4d then                                 -- BININT2
        local v = le(2)
        push_int(st, code, at)
        return 3, small_int(v)
    elseif code == 0x4a then                                 -- BININT: signed
        local v = le(4)
        if v >= 0x80000000 then v = v - 0x100000000 end
        push_int(st, code, at)
        return 5, small_int(v)
    elseif code == 0x88 or code == 0x89 then                 -- NEWTRUE, NEWFALSE
        push_int(st, code, at)
        return 1, { int = code == 0x88 and 1 or 0 }
    elseif code == 0x8a or code == 0x8b then                 -- LONG1, LONG4
        local width = code == 0x8a and 1 or 4
        local n = le(width)
        if n > 0x7fffffff then
            -- CPython reads LONG4's length as a signed int.
            error(refusal(string.format("pickle LONG4 at byte %d has a negative length",
                at - st.payload_start), at))
        end
        if avail < 1 + width + n then error(truncated(at)) end
        local value = n == 0 and 0 or long_value(st, at + 1 + width, n, at)
        push_int(st, code, at)
        return 1 + width + n, { int = value, arg_len = n, width = width }
    elseif code == 0x71 or code == 0x72 then                 -- BINPUT, LONG_BINPUT
        local index = le(code == 0x71 and 1 or 4)
        if index > MAX_MEMO_INDEX then
            error(refusal(string.format("pickle memo index at byte %d is over the limit of %d",
                at - st.payload_start, MAX_MEMO_INDEX), at))
        end
        check_memo(st, code, at)
        return code == 0x71 and 2 or 5, { field = f.memo, value = index }
    elseif code == 0x94 then                                 -- MEMOIZE
        check_memo(st, code, at)
        return 1, {}
    elseif code == 0x49 or code == 0x4c then                 -- INT, LONG
        local text, len = line_arg(st, code, at)
        local digits = text
        if code == 0x49 and (text == "00" or text == "01") then
            -- What CPython writes for False and True.
            digits = text:sub(2)
        elseif code == 0x4c and text:sub(-1) == "L" then
            -- Python 3 writes LONG as L123L; the trailing L is optional.
            digits = text:sub(1, -2)
        end
        if not is_canonical(digits) then error(bad_literal(st, at)) end
        local value = big_from_decimal(digits)
        if not big_within(value, I128_MIN, I128_MAX) then error(out_of_range(st, at)) end
        push_int(st, code, at)
        return len, { int = value, text = text }
    elseif code == 0x70 then                                 -- PUT
        local text, len = line_arg(st, code, at)
        if not is_canonical(text) or text:sub(1, 1) == "-" then error(bad_literal(st, at)) end
        if #text > 5 or tonumber(text) > MAX_MEMO_INDEX then
            error(refusal(string.format("pickle memo index at byte %d is over the limit of %d",
                at - st.payload_start, MAX_MEMO_INDEX), at))
        end
        check_memo(st, code, at)
        return len, { field = f.memo, value = tonumber(text), text = text }
    elseif MOVES[code] then                                  -- MARK, lists, APPEND(S), STOP
        local next_stack = MOVES[code][st.stack]
        if not next_stack then error(misplaced(code, at, st.payload_start)) end
        st.stack = next_stack
        -- Every FRAME must end at STOP or before (CPython checks the bytes
        -- are there).
        if code == 0x2e and st.frame_end > at - st.payload_start + 1 then
            error(refusal(string.format(
                "a pickle FRAME announces more bytes than the payload has: its STOP opcode is at byte %d",
                at - st.payload_start), at))
        end
        return 1, {}
    elseif code == 0x80 then                                 -- PROTO, not first
        error(misplaced(code, at, st.payload_start))
    end
    -- GLOBAL, REDUCE, strings, floats, ...: refused on sight, argument unread.
    error(forbidden(code, at, st.payload_start))
end

-- One opcode's item: its name, the opcode byte, its argument and, for an
-- int, its value and the running sum (already added).
local function add_opcode_item(st, tvb, tree, at, len, what)
    local code = st.data:byte(at + 1)
    local name = opcode_name(code)
    local item = tree:add(f.op, tvb(at, len), name)
    item:add(f.opcode, tvb(at, 1))
    -- The argument's bytes: after the opcode, without a text's newline.
    local arg_len = what.text and len - 2 or len - 1
    local arg = arg_len > 0 and tvb(at + 1, arg_len) or nil
    if what.int then
        local value = int_string(what.int)
        local sum = sum_string(st.sum)
        if what.width then
            item:add_le(f.arg_len, tvb(at + 1, what.width))
            arg = what.arg_len > 0 and tvb(at + 1 + what.width, what.arg_len) or nil
        end
        if what.text then item:add(f.text, arg or tvb(at + 1, 1), what.text) end
        item:add(f.int, arg or tvb(at, 1), value)
        item:add(f.running_sum, tvb(at, len), sum):set_generated()
        item:set_text(string.format("%s %s (sum %s)", name, value, sum))
    elseif what.uint64 then
        item:add_le(what.field, arg)
        item:set_text(string.format("%s %s", name, tostring(arg:le_uint64())))
    elseif what.field then
        item:add(what.field, arg or tvb(at + 1, 1), what.value)
        item:set_text(string.format("%s %s", name, tostring(what.value)))
    else
        item:set_text(name)
    end
end

-- The verdict on a pickle request whose STOP was read: the sum, or why
-- the server refuses it (it must fit the 4-byte unsigned reply).
local function pickle_verdict(st)
    local sum = sum_big(st.sum)
    if not big_within(sum, I128_MIN, I128_MAX) then
        return nil, "the sum does not fit in 128 bits"
    end
    if not big_within(sum, ZERO, U32_MAX) then
        return nil, string.format("sum %s does not fit the 4-byte unsigned reply (0 to 4294967295)",
            big_tostring(sum))
    end
    return big_tostring(sum)
end

-- Shows refusal `r`: the bytes from `r.at` (nil: none left) to the end of
-- the frame, which the server does not read, with its message as an expert
-- info; the byte it names; for a pickle, the opcode it stopped at.
local function add_refused(tree, tvb, r, stop, pickle_opcode)
    local item
    if r.at and r.at < stop then
        item = tree:add(f.refused, tvb(r.at, stop - r.at), r.refused)
    else
        item = tree:add(f.refused, r.refused):set_generated()
    end
    item:add_proto_expert_info(ef.refused, r.refused)
    if r.named then
        item:add(f.refused_at, r.at):set_generated()
    end
    if pickle_opcode and r.at and r.at < stop then
        item:add(f.opcode, tvb(r.at, 1))
    end
end

-- Past the "Opcodes shown per frame" preference, opcodes are read and
-- summed but not shown: one item says how many.
local function add_hidden(tree, hidden)
    if hidden > 0 then
        tree:add(f.hidden, hidden):set_generated()
    end
end

-- A pickle payload from `start` to `stop` of the frame `tvb`. Returns a
-- one-line summary for the Info column.
local function dissect_pickle(tvb, tree, start, stop)
    local ptree = tree:add(f.pickle, tvb(start, stop - start))
    -- The opcodes are read from a Lua string of the frame: far cheaper
    -- than a TvbRange a byte; ranges are made only for the items shown.
    local st = {
        stack = "empty", payload_start = start, payload_end = stop, frame_end = 0,
        sum = new_sum(), data = tvb:raw(0, stop),
    }
    local at, shown, hidden = start, 0, 0
    local max_shown = adder.prefs.max_shown
    local ok, err = pcall(function()
        while at < stop do
            local len, what = read_opcode(st, at)
            if what.int then sum_add(st.sum, what.int) end
            if shown < max_shown then
                add_opcode_item(st, tvb, ptree, at, len, what)
                shown = shown + 1
            else
                hidden = hidden + 1
            end
            at = at + len
        end
    end)
    add_hidden(ptree, hidden)
    if not ok then
        if type(err) ~= "table" then error(err, 0) end    -- a bug here, not a refusal
        add_refused(ptree, tvb, err, stop, true)
        return "refused: " .. err.refused
    end
    if st.stack ~= "done" then
        add_refused(ptree, tvb, truncated(), stop, true)
        return "refused: " .. truncated().refused
    end
    tree:add(f.ints, st.sum.count):set_generated()
    local sum, why = pickle_verdict(st)
    if not sum then
        add_refused(tree, tvb, refusal(why), stop)
        return "refused: " .. why
    end
    tree:add(f.sum, sum):set_generated()
    return string.format("%d ints, sum %s", st.sum.count, sum)
end

---------------------------------------------------------------------------
-- The native format (core/src/adder/native.rs): FE 01, then postcard i64s.
---------------------------------------------------------------------------

-- The postcard varint at `at` (1 to 10 bytes, 7 bits each, least
-- significant first): its length and value as a UInt64, or nil when it is
-- not a valid u64 (too long, or a 10th byte over 1) or cut by `stop`.
local function read_varint(tvb, at, stop)
    local value = UInt64(0)
    for i = 0, 9 do
        if at + i >= stop then return nil, "cut" end
        local byte = tvb(at + i, 1):uint()
        if i == 9 and byte > 1 then return nil, "bad" end
        value = value:bor(UInt64(byte % 128):lshift(7 * i))
        if byte < 0x80 then return i + 1, value end
    end
    return nil, "bad"
end

-- Zigzag: 0, -1, 1, -2, ... are 0, 1, 2, 3, ...
local function unzigzag(u)
    local half = u:rshift(1)
    if u:band(UInt64(1)) == UInt64(1) then return Int64(half:bnot()) end
    return Int64(half)
end

-- A native request refused with error reply `code` (see refusal()).
local function native_error(code, at, named)
    return refusal(string.format("Error(%s): %s", code, NATIVE_ERROR_TEXT[code]), at, named)
end

local function dissect_native(tvb, tree, start, stop)
    local ntree = tree:add(f.native, tvb(start, stop - start))
    ntree:add(f.magic, tvb(start, 1))
    if stop - start < 2 then
        add_refused(ntree, tvb, native_error("Malformed"), stop)
        return "Error(Malformed)"
    end
    if tvb(start + 1, 1):uint() ~= 1 then
        add_refused(ntree, tvb, native_error("Version", start + 1), stop)
        return "Error(Version)"
    end
    ntree:add(f.version, tvb(start + 1, 1))
    local sum, at, shown, hidden = new_sum(), start + 2, 0, 0
    while at < stop do
        local len, value = read_varint(tvb, at, stop)
        if not len then
            -- A varint cut by the frame's end is refused at the end.
            add_hidden(ntree, hidden)
            add_refused(ntree, tvb, native_error("Malformed", at, value ~= "cut"), stop)
            return "Error(Malformed)"
        end
        local int = unzigzag(value)
        local n = int:tonumber()
        sum_add(sum, (n > -EXACT and n < EXACT) and n or big_from_decimal(tostring(int)))
        if shown < adder.prefs.max_shown then
            local item = ntree:add(f.native_int, tvb(at, len), int)
            item:add(f.running_sum, tvb(at, len), sum_string(sum)):set_generated()
            shown = shown + 1
        else
            hidden = hidden + 1
        end
        at = at + len
    end
    add_hidden(ntree, hidden)
    tree:add(f.ints, sum.count):set_generated()
    if not big_within(sum_big(sum), I64_MIN, I64_MAX) then
        add_refused(tree, tvb, native_error("Overflow"), stop)
        return "Error(Overflow)"
    end
    tree:add(f.sum, sum_string(sum)):set_generated()
    return string.format("%d ints, sum %s", sum.count, sum_string(sum))
end

---------------------------------------------------------------------------
-- Frames, requests and replies.
---------------------------------------------------------------------------

-- Set by the TCP-level dissector before dissect_tcp_pdus calls back: the
-- direction of the segment, and the Info texts of its PDUs.
local current = { request = true, infos = {} }

local function native_reply_len(tvb, offset)
    -- A native reply frame: FE 01, a tag and up to 10 varint bytes.
    if tvb:len() - offset >= 5 and tvb(offset + 4, 1):uint() == 0xfe then
        local len = tvb(offset, 4):le_uint()
        if len >= 2 and len <= 13 then return 4 + len end
    end
    return nil
end

-- How long the PDU at `offset` is. Requests are frames. Replies are 4 raw
-- bytes (pickle) or a frame (native) whose payload starts with FE: the
-- server writes each reply in one piece, so its fifth byte is there.
local function adder_pdu_len(tvb, pinfo, offset)
    if not current.request then
        return native_reply_len(tvb, offset) or 4
    end
    local len = tvb(offset, 4):le_uint()
    if len > DEFAULT_MAX_FRAME then
        -- The server reads the header only, then closes.
        return 4
    end
    return 4 + len
end

local function dissect_request(tvb, tree)
    local len = tvb(0, 4):le_uint()
    tree:add(f.message, "request"):set_generated()
    local litem = tree:add_le(f.length, tvb(0, 4))
    if len > DEFAULT_MAX_FRAME then
        litem:add_proto_expert_info(ef.frame_limit)
        return string.format("frame of %d bytes is over the default 67108864-byte limit", len)
    end
    if len == 0 then
        tree:add(f.format, "pickle"):set_generated()
        add_refused(tree, tvb, truncated(), 4)
        return "pickle, refused: " .. truncated().refused
    end
    if tvb(4, 1):uint() == 0xfe then
        tree:add(f.format, "native"):set_generated()
        return "native, " .. dissect_native(tvb, tree, 4, 4 + len)
    end
    tree:add(f.format, "pickle"):set_generated()
    return "pickle, " .. dissect_pickle(tvb, tree, 4, 4 + len)
end

local function dissect_reply(tvb, tree)
    tree:add(f.message, "reply"):set_generated()
    if tvb:len() == 4 then
        tree:add(f.format, "pickle"):set_generated()
        local item = tree:add_le(f.reply, tvb(0, 4))
        return "reply " .. tostring(tvb(0, 4):le_uint())
    end
    tree:add(f.format, "native"):set_generated()
    tree:add_le(f.length, tvb(0, 4))
    tree:add(f.magic, tvb(4, 1))
    tree:add(f.version, tvb(5, 1))
    local body = tvb:len()
    local tag_len, tag = read_varint(tvb, 6, body)
    if tag_len and tag == UInt64(0) then
        local len, value = read_varint(tvb, 6 + tag_len, body)
        if len and 6 + tag_len + len == body then
            local sum = unzigzag(value)
            tree:add(f.reply_sum, tvb(6, body - 6), sum)
            return "reply Sum(" .. tostring(sum) .. ")"
        end
    elseif tag_len and tag == UInt64(1) then
        local len, code = read_varint(tvb, 6 + tag_len, body)
        local name = len and code:tonumber() <= 2 and NATIVE_ERRORS[code:tonumber()]
        if name and 6 + tag_len + len == body then
            tree:add(f.reply_error, tvb(6, body - 6), name)
            return "reply Error(" .. name .. ")"
        end
    end
    tree:add_proto_expert_info(ef.bad_reply)
    return "malformed native reply"
end

-- One frame (request) or one reply: dissect_tcp_pdus hands each whole, in
-- its own tvb, reassembled across segments when needed.
local function dissect_adder_pdu(tvb, pinfo, root)
    local tree = root:add(adder, tvb())
    local info
    if current.request then
        info = "request, " .. dissect_request(tvb, tree)
    else
        info = dissect_reply(tvb, tree)
    end
    tree:append_text(": " .. info)
    current.infos[#current.infos + 1] = info
    return tvb:len()
end

-- The TCP payload of a segment to or from the adder's port.
function adder.dissector(tvb, pinfo, tree)
    -- The port the table matched is the server's (6001, or what Decode As
    -- chose): data sent to it is requests, from it replies.
    current.request = pinfo.dst_port == pinfo.match_uint
    current.infos = {}
    pinfo.cols.protocol = "reseau adder"
    dissect_tcp_pdus(tvb, tree, 4, adder_pdu_len, dissect_adder_pdu, true)
    if #current.infos > 0 then
        pinfo.cols.info = table.concat(current.infos, "; ")
    end
    return tvb:len()
end

---------------------------------------------------------------------------
-- Echo and chat: text, shown escaped (no terminal control character from
-- the network reaches a screen, as in reseau's own logs).
---------------------------------------------------------------------------

-- Printable ASCII as it is, `"` and `\` escaped, every other byte as \xNN
-- (and \n, \r, \t): the text is shown on one line, whatever it holds.
local function escape(bytes)
    local out = {}
    for i = 1, #bytes do
        local b = bytes:byte(i)
        if b == 0x0a then out[#out + 1] = "\\n"
        elseif b == 0x0d then out[#out + 1] = "\\r"
        elseif b == 0x09 then out[#out + 1] = "\\t"
        elseif b == 0x22 or b == 0x5c then out[#out + 1] = "\\" .. string.char(b)
        elseif b >= 0x20 and b < 0x7f then out[#out + 1] = string.char(b)
        else out[#out + 1] = string.format("\\x%02x", b) end
    end
    return table.concat(out)
end

-- The first 96 bytes, escaped, then "..." when there are more (the echo
-- server's log line does the same).
local function preview(tvb)
    local n = math.min(tvb:len(), 96)
    local text = n > 0 and escape(tvb(0, n):raw()) or ""
    return '"' .. text .. '"' .. (tvb:len() > n and "..." or "")
end

local ft = {
    echo_length = ProtoField.uint32("reseau_echo.length", "Length"),
    echo_direction = ProtoField.string("reseau_echo.direction", "Direction"),
    echo_text = ProtoField.string("reseau_echo.text", "Text", base.NONE,
        "the bytes, escaped: printable ASCII as is, the rest as \\xNN"),
    echo_data = ProtoField.bytes("reseau_echo.data", "Data"),
    chat_length = ProtoField.uint32("reseau_chat.length", "Length"),
    chat_text = ProtoField.string("reseau_chat.text", "Text", base.NONE,
        "the datagram, escaped: printable ASCII as is, the rest as \\xNN"),
    chat_data = ProtoField.bytes("reseau_chat.data", "Data"),
}
echo.fields = { ft.echo_length, ft.echo_direction, ft.echo_text, ft.echo_data }
chat.fields = { ft.chat_length, ft.chat_text, ft.chat_data }

-- Echo has no framing: each segment's bytes, to the server or echoed back.
function echo.dissector(tvb, pinfo, tree)
    if tvb:len() == 0 then return 0 end
    local to_server = pinfo.dst_port == pinfo.match_uint
    local direction = to_server and "sent" or "echoed"
    pinfo.cols.protocol = "reseau echo"
    pinfo.cols.info = string.format("%s %s (%d bytes)", direction, preview(tvb), tvb:len())
    local item = tree:add(echo, tvb(), "reseau echo, " .. direction)
    item:add(ft.echo_direction, direction):set_generated()
    item:add(ft.echo_length, tvb:len()):set_generated()
    item:add(ft.echo_text, tvb(), escape(tvb:raw()))
    item:add(ft.echo_data, tvb())
    return tvb:len()
end

-- Chat: one datagram, one message; no header.
function chat.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol = "reseau chat"
    pinfo.cols.info = string.format("message %s (%d bytes)", preview(tvb), tvb:len())
    local item = tree:add(chat, tvb(), "reseau chat")
    item:add(ft.chat_length, tvb:len()):set_generated()
    local text = tvb:len() > 0 and escape(tvb:raw()) or ""
    if tvb:len() > 0 then
        item:add(ft.chat_text, tvb(), text)
        item:add(ft.chat_data, tvb())
    else
        item:add(ft.chat_text, text):set_generated()
    end
    return tvb:len()
end

-- The default ports; adding to the tables also lists the protocols in
-- "Decode As..." (and tshark's -d tcp.port==N,reseau_adder) for any other.
DissectorTable.get("tcp.port"):add(ADDER_PORT, adder)
DissectorTable.get("tcp.port"):add(ECHO_PORT, echo)
DissectorTable.get("udp.port"):add(CHAT_PORT, chat)
