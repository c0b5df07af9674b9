# bash completion for wgm(8)                                      -*- shell-script -*-
#
# Install as /usr/share/bash-completion/completions/wgm (or source it).
# Verbs; `show' interfaces, `all', `interfaces', fields; `set' keywords in position; key and
# configuration files; configuration names from /etc/wireguard for up/down/reload/save/strip; running
# interfaces. Words are taken from the line as typed, split at whitespace only, so base64 keys
# ending in `=' and endpoints with `:' stay one word.
#
# _WGM_COMP_RUN_DIR and _WGM_COMP_CONF_DIR replace /var/run/wireguard and /etc/wireguard; they
# exist for wgm's own tests (test/unit/docs) and are not meant to be set otherwise.

_wgm_verbs='show showconf set setconf addconf syncconf genkey genpsk pubkey up down reload save strip probe monitor help'
_wgm_fields='public-key private-key listen-port fwmark peers preshared-keys endpoints allowed-ips latest-handshakes transfer persistent-keepalive dump'

# Running WireGuard interfaces: kernel links, then userspace daemons' UAPI sockets.
_wgm_interfaces() {
	local dir=${_WGM_COMP_RUN_DIR:-/var/run/wireguard} sock name _
	if [[ -z ${_WGM_COMP_RUN_DIR-} ]] && command -v ip >/dev/null 2>&1; then
		while read -r _ name _; do
			name=${name%:}
			printf '%s\n' "${name%%@*}"
		done < <(ip -o link show type wireguard 2>/dev/null)
	fi
	for sock in "$dir"/*.sock; do
		[[ -S $sock ]] || continue
		name=${sock##*/}
		name=${name%.sock}
		[[ -n $name ]] && printf '%s\n' "$name"
	done
}

# Configuration names: /etc/wireguard/NAME.conf where NAME is a valid interface name.
_wgm_config_names() {
	local dir=${_WGM_COMP_CONF_DIR:-/etc/wireguard} f name
	for f in "$dir"/*.conf; do
		[[ -f $f ]] || continue
		name=${f##*/}
		name=${name%.conf}
		[[ $name =~ ^[a-zA-Z0-9_=+.-]{1,15}$ ]] && printf '%s\n' "$name"
	done
}

# Adds the words of $1 (one per line) that start with $cur.
_wgm_add() {
	local w
	while IFS= read -r w; do
		[[ -n $w && $w == "$cur"* ]] && COMPREPLY+=("$w")
	done <<<"$1"
}

_wgm_add_files() {
	local -a a
	compopt -o filenames 2>/dev/null
	if [[ ${1-} == conf ]]; then
		mapfile -t a < <(compgen -f -X '!*.conf' -- "$cur")
		COMPREPLY+=("${a[@]}")
		mapfile -t a < <(compgen -d -- "$cur")
	else
		mapfile -t a < <(compgen -f -- "$cur")
	fi
	COMPREPLY+=("${a[@]}")
}

# `set': which keywords may come at the cursor, or which value is being typed.
_wgm_set() {
	local iface=${words[2]} i=3 w in_peer=0 listen=0 fwmark=0 pkey=0 remove=0 psk=0 keepalive=0
	while ((i < cword)); do
		w=${words[i]}
		case $w in
		listen-port) listen=1 ;;
		fwmark) fwmark=1 ;;
		private-key) pkey=1 ;;
		peer) in_peer=1 remove=0 psk=0 keepalive=0 ;;
		remove) remove=1 ;;
		preshared-key) psk=1 ;;
		persistent-keepalive) keepalive=1 ;;
		esac
		case $w in
		remove) ((i += 1)) ;;
		listen-port | fwmark | private-key | peer | preshared-key | endpoint | persistent-keepalive | allowed-ips) ((i += 2)) ;;
		*) ((i += 1)) ;;
		esac
	done
	if ((i > cword)); then
		# The cursor is on the value of words[cword-1].
		case ${words[cword - 1]} in
		private-key | preshared-key) _wgm_add_files ;;
		peer) _wgm_add "$(wgm show "$iface" peers 2>/dev/null)" ;;
		esac
		return
	fi
	local kw=()
	if ((!in_peer)); then
		((listen)) || kw+=(listen-port)
		((fwmark)) || kw+=(fwmark)
		((pkey)) || kw+=(private-key)
	elif ((!remove)); then
		((psk)) || kw+=(preshared-key)
		kw+=(endpoint allowed-ips) # several endpoints are candidates; allowed-ips add up
		((keepalive)) || kw+=(persistent-keepalive)
		kw+=(remove)
	fi
	kw+=(peer)
	_wgm_add "$(printf '%s\n' "${kw[@]}")"
}

_wgm() {
	local -a words
	local cword cur line
	COMPREPLY=()
	if [[ -n ${COMP_LINE-} ]]; then
		line=${COMP_LINE:0:COMP_POINT}
		read -ra words <<<"$line"
		[[ $line =~ [[:space:]]$ || ${#words[@]} -eq 0 ]] && words+=('')
		cword=$((${#words[@]} - 1))
	else
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
	cur=${words[cword]}

	if ((cword == 1)); then
		if [[ $cur == -* ]]; then
			_wgm_add $'--help\n--version'
		else
			_wgm_add "$(printf '%s\n' $_wgm_verbs)"
		fi
		_wgm_trim
		return
	fi
	local verb=${words[1]}
	if ((cword == 2)) && [[ $cur == -* ]]; then
		case $verb in
		show | probe | monitor) _wgm_add $'--json\n--help' ;;
		*) _wgm_add '--help' ;;
		esac
		_wgm_trim
		return
	fi
	case $verb in
	show)
		if ((cword == 2)); then
			_wgm_add "$(_wgm_interfaces)"$'\nall\ninterfaces'
		elif ((cword == 3)) && [[ ${words[2]} != interfaces && ${words[2]} != --json ]]; then
			# --json goes with an interface or `all', never with a field.
			if [[ $cur == -* ]]; then
				_wgm_add '--json'
			else
				_wgm_add "$(printf '%s\n' $_wgm_fields)"
			fi
		fi
		;;
	showconf)
		((cword == 2)) && _wgm_add "$(_wgm_interfaces)"
		;;
	setconf | addconf | syncconf)
		if ((cword == 2)); then
			_wgm_add "$(_wgm_interfaces)"
		elif ((cword == 3)); then
			_wgm_add_files
		fi
		;;
	set)
		if ((cword == 2)); then
			_wgm_add "$(_wgm_interfaces)"
		else
			_wgm_set
		fi
		;;
	up | strip)
		if ((cword == 2)); then
			_wgm_add "$(_wgm_config_names)"
			_wgm_add_files conf
		fi
		;;
	down | reload | save)
		if ((cword == 2)); then
			_wgm_add "$(_wgm_interfaces)"
			_wgm_add_files conf
		fi
		;;
	probe | monitor)
		if ((cword == 2)); then
			_wgm_add "$(_wgm_interfaces)"
		elif ((cword == 3)) && [[ ${words[2]} != --json ]]; then
			_wgm_add '--json'
		fi
		;;
	esac
	_wgm_trim
}

# Readline replaces only the part of the word after the last `=' or `:' (COMP_WORDBREAKS), so
# the replies must lose what comes before it.
_wgm_trim() {
	local prefix i
	[[ $cur == *[=:]* ]] || return 0
	prefix=${cur%"${cur##*[=:]}"}
	for i in "${!COMPREPLY[@]}"; do
		COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
	done
}

complete -o nosort -F _wgm wgm
