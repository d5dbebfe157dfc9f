# Writes a binary file's bytes as a C initializer list (no xxd needed), at
# build time:
#
#   cmake -DIN=file.zdict -DOUT=file.inc -P bin2c.cmake
#
# OUT holds "0xNN," sixteen a line; include it between the braces of an
# array (src/sync/dicts.c).
file(READ "${IN}" hex HEX)
string(REPEAT "[0-9a-f]" 32 line)
string(REGEX REPLACE "(${line})" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}.tmp" "/* Generated from ${IN} by bin2c.cmake: do not edit. */\n${body}\n")
file(RENAME "${OUT}.tmp" "${OUT}")
