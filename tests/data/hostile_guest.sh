# Run in a VM by test_guest_text_e2e.py: a guest that tries to reach the host terminal.
# A title with an 8-bit CSI, a directory whose name holds OSC and CSI, an
# environment value with an OSC 52 clipboard write and markup, pane output
# with the same plus random bytes. 7777 marks the guest's own CSI parameters.
d="/tmp/$(printf 'd\033]2;PWN\007\033[7777;7777H[/x]')"
mkdir -p "$d" && cd "$d"
export EVIL="$(printf '\033]52;c;QUJD\007[/x]\302\233')"
printf '\033]52;c;QUJD\007\302\2337777;7777H\033P+q544e\033\\'
head -c 65536 /dev/urandom
printf '\033c\033]2;T\302\2337777;7777H[/b]\007ready\n'
exec sleep 600
