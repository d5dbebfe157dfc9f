#!/usr/bin/env bash
# Mesh membership by join token, as operators drive it from the kizuna CLI:
# A founds a mesh (its network key in mesh.key, 0600); 'mesh invite' prints
# a token (and a QR code with --qr); B joins with it and then holds the same
# mesh id, root and network key as A; damaged, cut, foreign and newer tokens
# are refused with their own message and change nothing; the key-only join
# (--root, or 64 hex digits) still works and can be completed by a token.
set -u
K="$KZ_BIN/kizuna"
T=$(mktemp -d "${TMPDIR:-/tmp}/kzmesh-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

same() { if diff -u - "$T/$1" >"$T/diff"; then ok; else
	bad "$1 is not as expected"; sed 's/^/  | /' "$T/diff" >&2; fi; }
mode() { stat -c %a "$1"; }

A="$T/a"; B="$T/b"; C="$T/c"; D="$T/d"
ka() { "$K" --home "$A" "$@"; }
kb() { "$K" --home "$B" "$@"; }
kc() { "$K" --home "$C" "$@"; }
kd() { "$K" --home "$D" "$@"; }
for n in a b c d; do
	expect 0 "init $n" -- k$n --json init
done
ka --json status >"$T/out"; AK=$(field node_key)
kb --json status >"$T/out"; BK=$(field node_key)
[ "${#AK}" -eq 64 ] && [ "${#BK}" -eq 64 ] && ok || bad "no node keys"

# ------------------------------------------------------------ create
expect 1 "invite before any mesh" -- ka mesh invite --address 127.0.0.1:7420
has err "this node has not joined a mesh"
expect 0 "mesh create" -- ka mesh create --name 谷川市
has out "network key: in $A/mesh.key (fingerprint "
eq "$(mode "$A/mesh.key")" 600 "mesh.key mode"
grep -q '^kizuna-mesh: 1$' "$A/mesh.key" && ok || bad "mesh.key has no version line"
NETKEY=$(sed -n 's/^network-key: //p' "$A/mesh.key")
[ "${#NETKEY}" -eq 64 ] && ok || bad "mesh.key has no network key"
expect 0 "a mesh show json" -- ka mesh show --json
MESH=$(field mesh_id)
FP=$(field network_key_fingerprint)
has out "\"root\":\"$AK\""
has out '"network_key":true'
has out '"bootstrap":null'
[ "${#MESH}" -eq 64 ] && [ "${#FP}" -eq 16 ] && ok || bad "mesh id '$MESH', fingerprint '$FP'"
hasnt out "$NETKEY"
expect 0 "a mesh show" -- ka mesh show
has out "net key:   present (fingerprint $FP)"
hasnt out "$NETKEY"

# ------------------------------------------------------------ invite
expect 2 "invite without an address (listen 0.0.0.0)" -- ka mesh invite
has err "mesh invite needs --address HOST:PORT: the [net] listen setting (0.0.0.0:7420) names no address another node can reach"
expect 2 "invite bad address" -- ka mesh invite --address 127.0.0.1
has err "invalid --address '127.0.0.1': give HOST:PORT"
expect 2 "invite port 0" -- ka mesh invite --address host:0
expect 0 "invite" -- ka mesh invite --address 127.0.0.1:7420
lines out 1
empty err
TOK=$(cat "$T/out")
[[ "$TOK" =~ ^kizuna1:[a-z2-7]+$ ]] && ok || bad "token '$TOK' is not kizuna1: and base32"
hasnt out "$NETKEY"
expect 0 "invite json" -- ka --json mesh invite --address 127.0.0.1:7420
has out "{\"token\":\"$TOK\",\"mesh_id\":\"$MESH\",\"root\":\"$AK\",\"address\":\"127.0.0.1:7420\"}"
expect 0 "invite --qr" -- ka mesh invite --address 127.0.0.1:7420 --qr
head -1 "$T/out" >"$T/first"
same first <<EOF
$TOK
EOF
# After a blank line, the code: rows of half blocks, all one width, half as
# many rows as columns (rounded up), with a 4-module quiet zone.
# (Each block, 3 bytes of UTF-8, is counted as one column whatever the locale.)
tail -n +3 "$T/out" | sed 's/▀/x/g; s/▄/x/g; s/█/x/g' >"$T/qr"
W=$(head -1 "$T/qr" | tr -d '\n' | wc -c)
R=$(wc -l <"$T/qr")
[ "$W" -ge 29 ] && [ "$R" -eq $(((W + 1) / 2)) ] && ok || bad "QR code of $R rows of $W columns"
[ "$(awk '{ print length($0) }' "$T/qr" | sort -u)" = "$W" ] && ok || bad "QR rows differ in width"
[ -z "$(tr -d ' x\n' <"$T/qr")" ] && ok || bad "QR code has other characters than half blocks"
grep -q x "$T/qr" && ok || bad "QR code is blank"
# The [net] listen setting is the default address when it names one.
cp -r "$A" "$T/a2"
sed -i 's/^listen = 0\.0\.0\.0:7420$/listen = 192.0.2.10:7420/' "$T/a2/kizuna.conf"
expect 0 "invite at the listen address" -- "$K" --home "$T/a2" --json mesh invite
has out '"address":"192.0.2.10:7420"'
TOK2=$(field token)
rm -rf "$T/a2"

# ------------------------------------------------------------ join
expect 0 "b joins with the token" -- kb mesh join "$TOK"
same out <<EOF
joined mesh $MESH
root node:   ${AK:0:16}
bootstrap:   127.0.0.1:7420
network key: in $B/mesh.key (fingerprint $FP)
an admin node admits this one with: kizuna mesh admit $BK --name NAME
EOF
empty err
eq "$(mode "$B/mesh.key")" 600 "b's mesh.key mode"
eq "$(sed -n 's/^network-key: //p' "$B/mesh.key")" "$NETKEY" "b's network key"
expect 0 "b mesh show json" -- kb mesh show --json
eq "$(field mesh_id)" "$MESH" "b's mesh id"
eq "$(field root)" "$AK" "b's root"
eq "$(field network_key_fingerprint)" "$FP" "b's network key fingerprint"
has out '"network_key":true'
has out '"bootstrap":"127.0.0.1:7420"'
has out '"standing":"not admitted"'
expect 0 "b mesh show" -- kb mesh show
same out <<EOF
mesh:      (not known yet: the root node's feed has not arrived)
mesh id:   $MESH
root node: $AK
this node: $BK (not admitted)
net key:   present (fingerprint $FP)
bootstrap: 127.0.0.1:7420
EOF
expect 0 "b joins again with the same token" -- kb mesh join "$TOK"
empty err
expect 0 "b joins with the listen-address token" -- kb mesh join "$TOK2"
has err "already joined: $B/mesh.key keeps its bootstrap address 127.0.0.1:7420"
# Once the root's feed arrives, its mesh entry agrees with the token.
expect 0 "a admits b" -- ka mesh admit --name 上流支所 "$BK"
expect 0 "export a's feed" -- ka export-run --feed "$AK" "$T/a.kzr"
expect 0 "b imports it" -- kb import-run "$T/a.kzr"
expect 0 "b mesh show after a's feed" -- kb mesh show
has out "mesh:      谷川市"
has out "mesh id:   $MESH"
has out "this node: $BK (member)"
empty err
expect 0 "b may invite too" -- kb --json mesh invite --address 192.0.2.20:7420
has out "\"mesh_id\":\"$MESH\",\"root\":\"$AK\""

# ------------------------------------------------------------ bad tokens
expect 2 "join without a token" -- kc mesh join
expect 1 "join a damaged token" -- kc mesh join "${TOK:0:60}$([ "${TOK:60:1}" = a ] && echo b || echo a)${TOK:61}"
same err <<EOF
kizuna: token damaged (checksum): a character is wrong; copy it again exactly
EOF
expect 1 "join a token with a letter in upper case" -- kc mesh join "${TOK:0:60}$(printf '%s' "${TOK:60:1}" | tr a-z2-7 A-Z8-9)${TOK:61}"
has err "token damaged ("
expect 1 "join a cut token" -- kc mesh join "${TOK:0:50}"
has err "token truncated"
expect 1 "join a token cut short at the end" -- kc mesh join "${TOK:0:$((${#TOK} - 8))}"
has err "kizuna: token"
expect 1 "join a newer token" -- kc mesh join "kizuna2:${TOK:8}"
has err "unknown token version"
expect 1 "join something else" -- kc mesh join "hello:${TOK:8}"
has err "not a kizuna token"
expect 2 "join --root with a token" -- kc mesh join --root "$TOK"
has err "invalid node key"
expect 2 "join a mistyped root key" -- kc mesh join "${AK:0:63}"
has err "invalid node key"
# None of it changed anything.
[ ! -e "$C/mesh.key" ] && ok || bad "a refused token left c/mesh.key"
expect 1 "c is in no mesh" -- kc mesh show
has err "this node has not joined a mesh"
expect 1 "a joins its own mesh" -- ka mesh join "$TOK"
has err "the token's root node is this node"

# ------------------------------------------------------------ key-only join
expect 0 "c joins with --root" -- kc mesh join --root "$AK"
has out "joined the mesh whose root node is $AK"
expect 0 "c mesh show json" -- kc mesh show --json
has out '"network_key":false,"network_key_fingerprint":null'
expect 0 "c mesh show" -- kc mesh show
has out "net key:   none (joined with the root key only"
expect 1 "c cannot invite" -- kc mesh invite --address 127.0.0.1:7420
has err "this node holds no network key (no $C/mesh.key)"
# The upper-case form (what the QR code carries) completes the join.
expect 0 "c joins with the upper-case token" -- kc mesh join "$(printf '%s' "$TOK" | tr a-z A-Z)"
has out "joined mesh $MESH"
expect 0 "c mesh show after the token" -- kc mesh show --json
eq "$(field mesh_id)" "$MESH" "c's mesh id"
eq "$(field network_key_fingerprint)" "$FP" "c's network key fingerprint"
expect 0 "a bare root key still joins (64 hex digits)" -- kd mesh join "$AK"
has out "joined the mesh whose root node is $AK"

# ------------------------------------------------------------ one mesh a node
expect 0 "e founds another mesh" -- "$K" --home "$T/e" init
expect 0 "e mesh create" -- "$K" --home "$T/e" mesh create --name other
expect 1 "e joins a's mesh" -- "$K" --home "$T/e" mesh join "$TOK"
has err "this node already belongs to the mesh whose root is"
expect 1 "e cannot create twice" -- "$K" --home "$T/e" mesh create
has err "this node already belongs to the mesh whose root is"

# ------------------------------------------------------------ the file's mode
chmod 644 "$A/mesh.key"
expect 1 "invite with a readable mesh.key" -- ka mesh invite --address 127.0.0.1:7420
has err "$A/mesh.key is readable by group or others; refusing to use it (fix with: chmod 600 $A/mesh.key)"
empty out
expect 1 "show with a readable mesh.key" -- ka mesh show
chmod 600 "$A/mesh.key"
expect 0 "invite again" -- ka mesh invite --address 127.0.0.1:7420
has out "$TOK"
printf 'not a mesh file\n' >"$T/junk"; chmod 600 "$T/junk"; cp "$T/junk" "$C/mesh.key"
expect 1 "a mesh.key that is not one" -- kc mesh show
has err "$C/mesh.key is not a kizuna mesh file"

# ------------------------------------------------------------ usage
expect 0 "invite --help" -- ka mesh invite --help
has out "usage: kizuna [--home DIR] mesh invite [--json] [--address HOST:PORT] [--qr]"
expect 0 "join --help" -- ka mesh join --help
has out "usage: kizuna [--home DIR] mesh join [--json] TOKEN | --root ROOTKEY"
expect 0 "mesh --help lists invite" -- ka mesh --help
has out "mesh invite [--address HOST:PORT] [--qr]"

finish mesh
