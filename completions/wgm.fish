# fish completion for wgm(8). Install as /usr/share/fish/vendor_completions.d/wgm.fish.
#
# Verbs; `show' interfaces, `all', `interfaces', fields; `set' keywords in position; key and
# configuration files; configuration names from /etc/wireguard for up/down/reload/save/strip; running
# interfaces. _WGM_COMP_RUN_DIR and _WGM_COMP_CONF_DIR replace /var/run/wireguard and
# /etc/wireguard for wgm's own tests (test/unit/docs) only.

# Running WireGuard interfaces: kernel links, then userspace daemons' UAPI sockets.
function __wgm_interfaces
    set -l dir /var/run/wireguard
    if set -q _WGM_COMP_RUN_DIR
        set dir $_WGM_COMP_RUN_DIR
    else if command -sq ip
        for line in (ip -o link show type wireguard 2>/dev/null)
            set -l name (string split ' ' -- $line)[2]
            string replace -r ':$' '' -- $name | string replace -r '@.*' ''
        end
    end
    for sock in $dir/*.sock
        test -S $sock; or continue
        printf '%s\tWireGuard interface\n' (string replace -r '\.sock$' '' -- (string replace -r '.*/' '' -- $sock))
    end
end

# Configuration names: /etc/wireguard/NAME.conf where NAME is a valid interface name.
function __wgm_config_names
    set -l dir /etc/wireguard
    set -q _WGM_COMP_CONF_DIR; and set dir $_WGM_COMP_CONF_DIR
    for f in $dir/*.conf
        test -f $f; or continue
        set -l name (string replace -r '\.conf$' '' -- (string replace -r '.*/' '' -- $f))
        string match -qr '^[a-zA-Z0-9_=+.-]{1,15}$' -- $name; and printf '%s\tconfiguration\n' $name
    end
end

# *.conf files and directories under the word being typed.
function __wgm_conf_files
    set -l token (commandline -ct)
    for f in "$token"*
        if test -d $f
            echo $f/
        else if string match -q -- '*.conf' $f
            echo $f
        end
    end
end

# `set': which keywords may come at the cursor, or which value is being typed.
function __wgm_set
    set -l words (commandline -opc)
    set -l n (count $words)
    if test $n -eq 2
        __wgm_interfaces
        return
    end
    set -l i 4
    set -l in_peer 0; set -l listen 0; set -l fwmark 0; set -l pkey 0
    set -l remove 0; set -l psk 0; set -l keepalive 0
    while test $i -le $n
        set -l w $words[$i]
        switch $w
            case listen-port
                set listen 1
            case fwmark
                set fwmark 1
            case private-key
                set pkey 1
            case peer
                set in_peer 1; set remove 0; set psk 0; set keepalive 0
            case remove
                set remove 1
            case preshared-key
                set psk 1
            case persistent-keepalive
                set keepalive 1
        end
        switch $w
            case listen-port fwmark private-key peer preshared-key endpoint persistent-keepalive allowed-ips
                set i (math $i + 2)
            case '*'
                set i (math $i + 1)
        end
    end
    if test $i -gt (math $n + 1)
        switch $words[$n]
            case private-key preshared-key
                __fish_complete_path (commandline -ct)
            case peer
                wgm show $words[3] peers 2>/dev/null
        end
        return
    end
    if test $in_peer -eq 0
        test $listen -eq 1; or printf '%s\t%s\n' listen-port 'UDP port to listen on'
        test $fwmark -eq 1; or printf '%s\t%s\n' fwmark 'firewall mark for outgoing packets'
        test $pkey -eq 1; or printf '%s\t%s\n' private-key 'file holding the private key'
    else if test $remove -eq 0
        test $psk -eq 1; or printf '%s\t%s\n' preshared-key 'file holding the preshared key'
        printf '%s\t%s\n' endpoint 'candidate endpoint (may repeat)' allowed-ips 'comma-separated allowed IPs'
        test $keepalive -eq 1; or printf '%s\t%s\n' persistent-keepalive 'keepalive interval'
        printf '%s\t%s\n' remove 'remove this peer'
    end
    printf '%s\t%s\n' peer 'start the options of a peer'
end

# Everything after the verb.
function __wgm_args
    set -l words (commandline -opc)
    set -l n (count $words)
    set -l verb $words[2]
    set -l token (commandline -ct)
    if string match -q -- '-*' $token
        switch $verb
            case show
                # --json goes with an interface or `all', never with a field or `interfaces'.
                if test $n -le 3; and not contains -- --json $words; and not contains -- interfaces $words
                    echo --json
                end
            case probe monitor
                contains -- --json $words; or echo --json
        end
        test $n -eq 2; and echo --help
        return
    end
    switch $verb
        case show
            if test $n -eq 2
                __wgm_interfaces
                printf '%s\t%s\n' all 'every interface' interfaces 'the names of the interfaces'
            else if test $n -eq 3; and not contains -- $words[3] interfaces --json
                printf '%s\n' public-key private-key listen-port fwmark peers preshared-keys endpoints \
                    allowed-ips latest-handshakes transfer persistent-keepalive dump
            end
        case showconf probe monitor
            test $n -eq 2; and __wgm_interfaces
        case setconf addconf syncconf
            if test $n -eq 2
                __wgm_interfaces
            else if test $n -eq 3
                __fish_complete_path $token
            end
        case set
            __wgm_set
        case up strip
            if test $n -eq 2
                __wgm_config_names
                __wgm_conf_files
            end
        case down reload save
            if test $n -eq 2
                __wgm_interfaces
                __wgm_conf_files
            end
    end
end

complete -c wgm -f
complete -c wgm -n 'test (count (commandline -opc)) -eq 1' -s h -l help -d 'Show the usage'
complete -c wgm -n 'test (count (commandline -opc)) -eq 1' -s v -l version -d 'Show the version'
complete -c wgm -n 'test (count (commandline -opc)) -eq 1' -k -a "
show\t'Show the configuration and state of interfaces'
showconf\t'Print the configuration of an interface, for setconf'
set\t'Change the configuration of an interface'
setconf\t'Apply a configuration file to an interface'
addconf\t'Add a configuration file to an interface'
syncconf\t'Synchronize an interface with a configuration file'
genkey\t'Print a new private key'
genpsk\t'Print a new preshared key'
pubkey\t'Print the public key of the private key on stdin'
up\t'Bring up an interface from its configuration file'
down\t'Tear down an interface brought up by up'
reload\t'Apply a changed configuration file to a running interface'
save\t'Save the running configuration to its file'
strip\t'Print the configuration without the wg-quick keys'
probe\t'Tell which WireGuard backends this host has'
monitor\t'Stream endpoint changes of wgm-engine interfaces'
help\t'Show the usage'"
complete -c wgm -n 'test (count (commandline -opc)) -ge 2' -k -a '(__wgm_args)'
