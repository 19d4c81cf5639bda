"""Names that are atoms in a running RabbitMQ 3.10 node (Erlang/OTP 25, no plugins).

RabbitMQ turns an exchange type into an atom with ``list_to_existing_atom``: a name that is
no atom is an ``unknown exchange type``, one that is an atom but names no exchange type is
an ``invalid exchange type``. This is the node's atom table, restricted to names of lower
case letters, digits, dots and dashes (the names people try as exchange types); names with
underscores or capitals count as no atom. Data only.
"""

from __future__ import annotations

__all__ = ["is_atom"]

_WORDS = """
a a0 a1 a2345 a2b a2r aa aaaa abandoned abbreviated abcast abort aborted above abs absent
absname absolute abst abstr abstract abstract1 abstract2 ac aca acc accept accept-charset
accept-encoding accept-language accept-ranges accept0 acceptconn accepted acceptfilter accepting
acceptor acceptors access access.request accumulate acfml acful ack ackfold acnl acos acosh
acquired act action activate activated active activity actual acul acyclic add add0 add1 added
addr address addresses addrform adjacents adjust adler32 administrator advanced advise ae aead
aes af after age ageffcaobf ageffcaoff ageffcbf aggregate agreed ah aix alarms alen alert
alerter algorithm alias alias1 aliases alive all all0 allmulti alloc allocate allocated
allocated1 allocations allocator allocators allow allowed alog alpha alpn already alt
alternate-exchange alternative altname amb amcbf amd64 amp amqp amqp091 amqqueue analyse
analysis analyze ancestor ancestors anchored and andalso andthen anlist anno anno0 anno1
annotation annotations announce anon anonymous ansi answer any anycrlf aobf aoff aoffcaobf
aoffcbf apos app appcall append appinfo appl appletlk application applications applied apply
apply-to apply1 apply2 appname approved apps arch archive arcnet area arg arg0 args args2cp
argss argument arguments arith arithfbif arity arlist arrange array as asbcst asc ascending
ascii asin asinh asm asn1 asn1config asn1ct asn1db asocmaxrxt assemble assert assign assoc
association associnfo assq async asynchronous at atags atan atan2 atanh aten atime atm atom
atomic atomics atomize atoms attach attached attr attrib attribute attributes attrs auth
authentication authhdr author authority authorization authorized authpriv auto autoclose
autocluster autodetect autoheal automedia autoredirect aux available avg1 avg15 avg5 await ax.25
ax25 axfr axis axis1 b b04 b16x b2345 b2a b2s b64x back backend backlog backoff backstrip
backstrip2 backtrace backup bad badarg badarith badarity badbytes badcall badcookie badexpr
badfile badfun badid badkey badlist badmap badmatch badop badopen badopt badopts badpattern
badre badrecord badrpc badsig badstartspec badtab badtype badutf badvers bag balance balog band
bar base base64 base64url based basedir basefont basename basename1 basenameb basic basic.ack
basic.cancel basic.consume basic.credit basic.deliver basic.get basic.nack basic.publish
basic.qos basic.recover basic.reject basic.return batch batchable batches bb bbmustache bc bc64
bchunk bchunks be beam beat become beep before begin behave behavior behaviour benign ber beside
best between beyond bf bg bi bichunk bif bif0 bif1 bif2 bifs big bin bin2bins bin2keybins
bin2keybins2 bin2objs bin2objs2 bin2term bin2term1 binarify binary binary2filename bind binding
bindings bindir bindtodevice bindx binobjs2terms binrev bins2terms binterms bit bitenumlist bits
bitsize bitstr bitstring bitstrs bittype bitvalue black blake2b blake2s blank blink block
blocked blockify blocking blocks blog blue bm bmult bnot body bof bold bom bool bool8 boolean
boolfun boot booted bootfile booting bootstate bor borlist bos both bottom bound bounds bpd bq
bquoted br branch break breakpoint breopen brief broadaddr broadcast bs2as bs2ss bsl bsr bt
btruncate buffer bufsz build builtins bummer bump buserror busy bxor bye byte bytes bytes16
bytes2int bytes32 bytesize c c2pnb163v1 c2pnb163v2 c2pnb163v3 c2pnb176v1 c2pnb208w1 c2pnb272w1
c2pnb304w1 c2pnb368w1 c2s c2tnb191v1 c2tnb191v2 c2tnb191v3 c2tnb239v1 c2tnb239v2 c2tnb239v3
c2tnb359v1 c2tnb431r1 ca caa cacertfile cacerts cache cache-control cached caching cafu calendar
call call1 callback callbacks called caller callers calli calls cancel cancelled candidate
candidates canon cantconfig capabilities capacity capture carriers cas case casefold caseless
cast cat catbin catch catches catchlevel catchtag catchup categories category caught cause cbody
cbv ccc cclause cclauses cd cdata cdr ceil ceiling cell centre cerl cert certdb certfile
certicom-arc certificate certify certpath certs cexpr cexprs cf cfg cflags cfun cg cgi cguard ch
chacha20 chain challenge change changed channel channel.alert channel.close channel.flow
channel.open channels chaos char character characteristic-two-field characters chars check
checkout checkout0 checkpoint checkpoints checksum chgopt chgopts child children childspec
childspecs choice chomp choose chr chunk chunkify chunks cind cinsert cipher ciphers circle
circular city clash class classic clause clauses clean cleanup clear cleared clever client
client-local climb clint clint0 clobbers clock clocks close closed closing closure cluster
clustering cm cmac cmap cmd cmerge cmp cn cname cnt cntrl code col collect collector colls colon
color colors cols column columns com combine combined combines comdata comma command commands
commandv comment commented comments commit committed committing common common-name comp comp1
comp2 compact compat competing compile compile1 compile2 compile3 compiler complete complex
complexity component components compose composite compress compressed compressions concat
concrete cond condensation condense condition conf confidential config configfd configurable
configure configured confinue confirm confirm.select confirmed confirms conflicts congestion
conj conjunction connect connect0 connect1 connect2 connected connecting connection
connection.blocked connection.close connection.open connection.redirect connection.secure
connection.start connection.tune connection.unblocked connections connecttime connectx connectx0
cons cons2list cons2tuple consecutive consistent console const constant constants constrained
constrained2 constraint constraints constructor consult consume consumer consumers cont cont2
contains content content-encoding content-language content-length content-location content-md5
content-range content-type context continuation continue continued control controlled controller
conv converse conversion conversions convert cooked cookie cookies cooldown coord coordination
coordinator copies copt copy copyright core coredump cork corrupt cos cosh count counter
counters country cover coverage covered cowboy cowlib cp cp367 cp819 cpattern cpl cprof cpu cr
crash crashed crasher crashinfo crc crc32 crc32c create created creation credentials credit
credited critical crlf cron crypto cs2list csascii cse csi csiso10646utf1 csiso646basic1983
csisolatin1 cspan cstate cstep cstruct cstructs csucs4 csunicode ctime ctlu ctlx ctp ctrl
ctrl2ancdata ctrunc ctx ctxt ctype culprit cur current cursor curve curves customize cut
cuttlefish cwd cx cyan cycle cyclic cyclicity d da dabstr daeh daemon dalias danger darwin dat
dat2bin data data2state database datasync datatype date day days db dbg dblk dbool dcache dcbsm
dccp dcd dcd2ets dcg dcl dclean dcopt dcore dcorefold dd ddp deactivate deactivated dead
dead-letter-exchange dead-letter-routing-key dead-letter-strategy deadline deadlock deallocate
deatomize debug debug4 debugger debugging debugtype dec dec16 dec2hex decimal decimals decipher
decision decisions decl declare decode decoded decoder decompose decorate decorators decr
decrease decrypt deduce def default defaults defer define defined definition definitions deflate
deflated degree dehydrate deinit del delay delegate delete deleted deleting deliver deliver0
delivered delivery delivery-limit deloid delta demonitor denied deny dependencies dependency
depr deprecated depth depth1 dequeue der deref dereference deregister derivation derive desc
descend descendant descending describe described description desired dest destination detach
detailed details detect deterministic dets dev device dexp df dff dflag2str dg dgram dh dhcp
dhfile dhpublicnumber diagnostics dialyzer dialyzer-suppressions dict dictionary die died dif
diff diff2 diffable difference diffs digest digit digits digits1 digraph dinline dir direct
direction directory dirjoin dirjoin1 dirname dirp dirs dirty disable disable-feature disabled
disallowed disassemble disc discard discarded disconnect disconnected discover disjoint
disjunction disk disksup dispatch display dist distinguishers distributed disturbing div divide
djmp dk dkern dl dlci dlh dlx dm dma dmp dn dns do doc document documentation doit doldcg
doldinline dom domain dominators done dont dontfrag dontroute dopt dormant dot dotall dots
double down downgrade dpp dprecg dprep dragonfly drain drained draining drecv drestriction
driver drop drop-head droplast dropped dropwhile drv2protocol dsa dss dssa dssabsm dssaopt
dssashare dstaddr dstopts dt dtd dthrow dtls dtlsv1 dtlsv1.2 dtor dtrim dtx dtx.select dtx.start
dty dummy dump dumped dumper dup duplicate duplicated duplicates dupnames dups durable duration
dy dying dynamic dz e e163-4-address e2big e2s eacces eaccess eaddrfamily eaddrinuse
eaddrnotavail eadv eafnosupport eagain ealign ealready ebade ebadf ebadfd ebadflags ebadmsg
ebadr ebadrpc ebadrqc ebadslt ebfont ebin ebusy ecc eccs ecdh ecdsa echild echo echrng eclosure
ecomm econnaborted econnrefused econnreset ed25519 ed448 eddh eddsa edeadlk edeadlock
edestaddrreq edge edges edirty edit edlin edns edom edotdot edquot eduppkg eecf eetcd eether
eexist efail efamily efault efbig effect effective effects effort efile eftype egp ehook
ehostdown ehostunreach eidrm eigrp einit einprogress eintr einval eio eisconn eisdir eisnam
el2hlt el2nsync el3hlt el3rst elbin eldap elections element element-only elems elibacc elibbad
elibexec elibmax elibscn elif elnrng eloop else elvis em email emake embedded emem emergency
emfile emlink empty emsgsize emulator emultihop enable enable-feature enable2 enabled enables
enametoolong enavail enc encap encode encode1 encoded encoder encoding encrypt encrypted end
ended endian endianness endif endsub enet enetdown enetreset enetunreach enfile engine enoano
enobufs enocsi enodata enodev enoent enoexec enolck enolink enomem enomsg enoname enonet enopkg
enoprotoopt enospc enosr enostr enosym enosys enotblk enotconn enotdir enotempty enotnam
enotsock enotsup enotty enotuniq enough enqueue enqueuer enqueuers ensure ensure1 enter entity
entries entry enum enumerate enumeration env environment enxio eocd eof eol eopnotsupp eoptions
eor eos eot eoverflow eperm epfnosupport epipe epoch epoll epp eproclim eprocunavail eprof
eprogmismatch eprogunavail eproto eprotonosupport eprototype epsilon eq eql equal equality-match
equiv equivalent erange erase erefused eremchg eremdev eremote eremoteio eremoterelease erf erfc
erl erlang erlangrc erlint erlsrv erofs erpc erpcmismatch err erremote errno error errorlist
errormsg errors errqueue erts es escaped escapes escript eservice eshutdown esi esocktnosupport
esocktype esp espipe esrch esrmnt essl esslaccept established estack estale esuccess esystem
etag ether etherip ethernet etime etimedout etoomanyrefs ets ets2dcd etsinfo etxtbsy etype
euclean eui64 eunatch eunit eusers eval evaluate evaluator even event events eventually eversion
every evict evp ewouldblock ex exact exactly exbadport exbadseq exception exchange
exchange-delete-in-progress exchange.bind exchange.declare exchange.delete exchange.unbind
exchanges excl exclude exclusive exdev exec execute exfull exhausted exist existed existing
exists exit exited exiting exor exp expand expect expected experimental expiration expire
expired expires expiry export export1 exported exports expr exprec expression exprs exref
exro928ss exrop exs1024 exs1024s exs64 exsp exsplus exsss ext extc extc2 extended
extended-network-address extends extension extensions external extfunc extra extract extract1
extract2 extracted ez f facets facility factor fadd fail failed failover failure faith falist
fallback false fam fam2 fam2digraph fam2rel family family2rel fanout fastroute fatal fault fc
fcgi fcheckerror fclearerror fclose fconv fd fddi fdiv fdopen feature features federation fetch
fetchwhile ffdhe2048 ffdhe3072 ffdhe4096 ffdhe6144 ffdhe8192 fff ffirst ffirst1 fg field fields
fifo fil file file.ack file.cancel file.consume file.deliver file.open file.publish file.qos
file.reject file.return file.stage file2state file2tab fileheader filelib filename filename2appl
filename2binary files filesync fill1 fill2 fill3 filter filter1 filter2 filtered filtermap
filters final finalize find find2 findfold3 fine finfo finish finished finit finsert first
firstline fit fix fixed fixpoint fixtable fixup fl fl1 flag flags flat flatlength flatmap
flatmapfoldl flatrev flatten float float2str floating floats floor flow flowinfo flush flushed
fmatch fmergel fmod fmove fmt fmul fn fname fnegate fnext fold fold0 fold2 folder foldl foldr
foldr1 foldr2 foldxml follow follower following font foo footer fopen2 fopen3 force foreach
foreach1 foreigners forest forget fork form format formatter formerr forms forward forward2
found fprof fqdn fr fraction fragment fragmentation frame frame2frames frames2cols fread fread1
free freebind freebsd freeze frelay fresh frexp frexp1 friends frmt from fromfd frozen fs fsck
fslot fsort fstat fstate fstrip fsub fsync ftp full fun fun2ms funarg func funcstat function
functions funs fwrite g g3-facsimile g4-facsimile garb gatherer gauge gbody gc gcd gconf gcopt
gen general generate generated generational generator genout get get0 getaddr getaddrinfo
getaddrs getbyname getbysearch getc getenv getepmdbyname getfd gethostaddr gethostbyaddr
gethostbyname gethostname getif getifaddrs getiflist getindex getit getll getnameinfo getnode
getopt getopts getpid getprotocol getserv getservbyname getservbyname1 getservbyport
getservbyport1 getstat getstatus gettype gexpr gf ggp gi gid gifaddr gifbrdaddr gifconf
gifdstaddr gifflags gifhwaddr gifindex gifmap gifmtu gifname gifnetmask giftxqlen gigabyte gl
glb global gm go gone good got grant granted graph grd gre greater green grep group groups grow
grun grun2 gst gstate gsub gt gte gteq guard guard0 guard1 guid gun gunzip gvar gzip h h1 h2 h3
h4 h5 h6 ha-mode ha-params ha-promote-on-failure ha-promote-on-shutdown ha-sync-batch-size
ha-sync-mode halt handle handler handlers handshake handshake1 handshakes hash hash58 hashmap
hashs hashsign hatype hb hcb hd hdr hdrincl head header headers heads heap heart heartbeat
heartbeater height heir hello help here hex hex2dec hexdigit hexify hform hibernate hidden hide
high higher highest him hinfo hip histogram history hits hkcc hkcr hkcu hkdd hklm hku hmac hmac4
hmp hms hollerith home hook hoplimit hopopt hopopts horizontal host hostent hostname hosts hour
hours how hr href hs hspace ht html http httpc httpd httph httpify https hwaddr i i32 ia
ia5-terminal iaa ialias iapply ib iba ibc ibd ibe ibinary ibitstr ibm367 ibm819 ic icall icase
icatch ichunk iclause iclosure icmp icmp6 icon id id-aca id-aca-group id-ad id-ad-ocsp
id-aes128-wrap id-aes192-wrap id-aes256-wrap id-at id-at-clearance id-at-initials id-at-name
id-at-pseudonym id-at-role id-at-surname id-at-title id-attributes id-ce
id-characteristic-two-basis id-dsa id-dsa-with-sha1 id-dsa-with-sha224 id-dsa-with-sha256
id-edwards-curve-algs id-holdinstruction-callissuer id-holdinstruction-none
id-holdinstruction-reject id-kp id-md2 id-md5 id-mgf1 id-pe id-pe-ac-proxying id-pki id-pkix
id-pkix-ocsp id-pkix-ocsp-archive-cutoff id-pkix-ocsp-basic id-pkix-ocsp-crl
id-pkix-ocsp-extended-revoke id-pkix-ocsp-nocheck id-pkix-ocsp-nonce id-pkix-ocsp-pref-sig-algs
id-pkix-ocsp-response id-pkix-ocsp-service-locator id-qt id-qt-cps id-qt-unotice id-sha1
id-sha224 id-sha256 id-sha384 id-sha512 ident identified-organization identifier idle idn
idpr-cmtp idrp ieee1394 ieee802 ieee80211 iexprs if if-match if-modified-since if-none-match
if-range if-unmodified-since ifaddr ifdef iff ifget ifilter ifindex ifn ifndef ifold iformat
ifset ifun igen igmp ignore ignored ignorefd igp ih ii il iletrec illegal im image imap imappair
imatch img immediate immediately immutable imodule impersonator implemented implink import
important imported imports impossible in inactive inbound inc include includes incoming
incompatible incomplete inconsistent incr incremental indefinite indent indentation index
indexof indices inet inet6 inet6fb4 inetrc inets inext infiniband infinity inflate info info2
information informational infos infun inherit inherited ini init init1 init2 init3 initial
initial-cluster-size initialdecimal initialize initialized initiate initmsg inline inlined inode
inout input inq ins insert inserted inside insist inspect install instance instant instr
instructions instrument int int16 integer integers intensity interactive intercept interceptors
interface interfaces intermediate intermediates internal internalservicename interpret
interpreted interrupt interrupted intersect intersection intersection1 intersection2 interval
intrinsic invalid invalidate inverse inverse1 invoke io ioctl iodata iolist iov iovec iow ip ipb
ipcomp ipencap ipfamily ipip ipread iprimop iprotect ipsec3 ipsec4 ipv4 ipv6 ipv6-frag ipv6-icmp
ipv6-nonxt ipv6-opts ipv6-route iq iquery ir ireceive1 ireceive2 irix irix64 irq is iset isimple
isindex isis iso iso-10646-ucs-2 iso-10646-ucs-4 iso-10646-utf-1 iso-3166-alpha2-code iso-8859-1
iso-8859-15 iso-ir-100 iso-ir-6 iso-tp4 iso646-us isolated issuer ist istate item items iter
iterate iterations iterator itry iv ivalues ixrlock j jam jit job join join1 join1b joined
joining jose journald json jsx jump k kclosure keep keepalive keepcnt keepidle keepintvl kern
kernel key key1search key2pos keycheck keydelete keydelete3 keyfetch keyfile keyfind keyins
keylog keymap keymember keymerge keymergel keypos keyref keyrefer keyreplace keyreplace3
keyreplaceadd keys keysearch keysearchdelete keysort keystore keystore2 keytake keyunique
keywords kill killed kilobyte kind kind2op kmatch known knowsepoch ksd kv l l1 l2tp label labels
lager lait lambda landingpad lang language largest last last-modified lastline latest latin1
latin9 lattribute lax lay layout lazy lbody lc lc3 lc4 lcache lcache1 lcache2 lclose lcnt
ldflags leader leading leaf leave leex left legacy len length less let letify letrec level
levels levenshtein lex lexemes lexpr lexprs lf lform lfunction lg lguard lh li liat lib libc
libraries licenses lifetime lim limit limiter limits line line1 linearize lines linewidth linger
link link0 link1 link2 linkaddr linked links linkto lint lintersection linux list list0
list2cons list2cs list2lock list2op list2state list2term listen listener listeners listening
listify listing listop listreplace lists lit literal literal1 little live liveness lkill lm
lmbcs load load1 loaded loader loading loc local local-name local-postal-attributes local0
local1 local2 local3 local4 local5 local6 local7 locale locales localhost locals localtime
localtlk location locations lock lock2list locked locker locks locks2print locks2records log
log10 log2 log2floor logalert logaudit logfile logged logger logical login logl long longer
longnames longshort longstr lookup lookup0 loop loopback loopexec low lowdelay lower lowercase
lpr lqueue lr ls lsockets lst lstate lt lte lteq ltype ltypes lub lunion lversion m m1 m2a mac
machine macro macros macs maddr magenta mail maila mailb main mainloop mainloop1 maintainers
major majority make makedep management manager mandatory manet manual map mapfold mapfoldl
mapfoldr mapfoldxml mapify mapping maps mapsets mapxml mark marker markup mask master masters
match match1 matched matches math max max-age max-forwards max-in-memory-bytes
max-in-memory-length max-length max-length-bytes maxburst maxchar maximum maxlen maxseg maybe mb
mbcgs mbcs mbsd mcall mcs md md2 md4 md5 md5sha md5sig md5sum md5terms me2ae mechanism
mechanisms media medial medium meet megabyte mem member member-body members membership memkind
memlib memoize memory memsup menu merge merge3 merged mergel merger merl message message-ttl
messages meta metadata metavar method methods metricom metrics mf mfa mfa2s mfargs mfarity
mformat mforms mforms2 mg micro microsecond middle mif migrated millisecond milliseconds min
min-masters mincost minfo minify minimum minmax minor minpos minpos1 minpos2 minttl minute
minutes mirroring misc mismatch misread missing mixed mixify mixify2 mkcore mkeysearch
mkeysearch2 mkeysort mkfuns mkplugin mksep mktab mktext mlo mm mmbcs mmc mmmbc mmsbc mnesia
mobility-header mod mode modes modified modifier modifiers modp mods module modules modulo mon
monitor monitored monitoring monitors monotonic month months more motd move mpf mpint mpls-in-ip
mptcp mr ms msacc msbclt msend msfilter msg msgs msocket msort msstate mtime mtu multi multiaddr
multicall multicast multicomment multiline multipart multiple munge must mustache mwc59 mx n
name name0 name1 name2labels named namelist namereqd names nameserver nameservers namespace
namespace-uri namestring2namelist nanosecond naptr narrow native nativename nc nd ndata ndx need
needed neg negations negative negotiate negotiated neighbour neighbours neq nest net netbsd
netload netmask netmasks netns netrom network networking networks neutral never new newformat
newline news next nfc nfd nfkc nfkd nformat ni nibble2hex nifs nil nillable nis nisplus nl nlen
nlpad nnslookup no noansi noappdata noarp nobin nobody nocatch nochange noconnect noconnection
nocookie nocore node nodedown nodefrag nodelay nodename nodes nodeset nodeup nodistribution
noeol noexec nofail nofile noflow nofqdn nogroup nohost noinput nok nolast nolimit nolink nolist
noload nolocal nolog nomatch nomore noname nonames nonce none nonexisting nonl nonode nonzero
noobj noop noopt nooptions nop nopid noport noproc noproxy nopush noquery noreply norm normal
normalise normalize normalize-space noroute nos noshell nosignal nosock nossl nostack nostick
nostring nosuspend not notag notalive notation notbol notempty noteol notexist nothing notice
notify notimp notqeual notrailers notset notsup nouser novars now nowait nowarn nowhere nozero
npn nprocs nregs ns nsdname nslist nslookup nsz nt nteventlog nth nthtail ntoa ntoab ntp nub
null number number2name numeric numeric-code numerichost numericserv numerify nxdomain oactive
object objects objfile obsolete obtain occurrence occurs oct octets of off offender offline
offset offsets oid ok ol old oldest oldshell olp omit on onbasis once one onfail online onoff
oob oobinline op opaque opcode open open1 open2 openbsd opened opening openssl openzip operation
operational operator opname opnd ops opt optimize option optional options options1 opts
optuniquify optz or orddict order ordered ordering-match orders ordsets orelse org origdstaddr
origin os osiris ospf other otherhost othertype otp out outbound outcome outcomes outdir outfile
outfilename outfun outgoing output outputs overall overflow overlapping overlay overload
overloaded overrides overspecs overview overview0 overwritten own owner owners ownfile p pa pack
pack1 packet packets pad pad2 pad4 padding pair pang paper par paragraph parallelism param
parameter parameters params parent parentheses parse parser parsetools parsify part partial
participant partition partition2 partition3 partitions parts pass passcode passcred passes
passive passphrase passq passthrough password patch path path2bin paths pathtype pattern pause
pausing pbdkdf1 pbdkdf2 pcdata pclosure pds-name pe peek peeloff peer peeraddr peercert peercred
peername peernames peers penalty pending pendings percent period permanent permission
permissions permit persistent pes pfnote pformat pg pg2 pget phase phash phash2 phi
physical-delivery-country-name physical-delivery-office-name physical-delivery-office-number
physical-delivery-personal-name pi pick pick1 pick2 pid pid2name pids pim pinfo ping pipe
pipeline pkcs pkcs-1 pkcs-3 pkcs-5 pkcs-7 pkcs-9 pktinfo pktoptions pkttype plain plaintext plan
platform plmerge plug plugin plugins plural plus pmap pmerge pmon pmt pname pointer pointopoint
pointtopoint policies policy poll pollset poly1305 polyjump pong pool pop popf port portformat
portinfo portline portrange ports portsel pos position position2 positive posix post
post-office-box-address postal-code poste-restante-address postorder postpone postponed
postprocess posttraverse pow power2 pp ppbasis ppp pprint ppromisc pquery pqueue pr pragma pre
pread preallocate preceding precision pred predecessors predef predefined predicate prefer
preferred prefetch prefix prefixes preformat prelaunch preloaded preorder prep prepare prepared
preprocessor preserve pretraverse prettify pretty prettypr prev prf pri primary prime-field
prime192v1 prime192v2 prime192v3 prime239v1 prime239v2 prime239v3 prime256v1 primop primzip
prinfo prinfo2 print printable printable-code println prio priorities priority priv private
probe proc proceed process processes processing-instruction processor procformat procline
proclock procs procs1 prod product profile profiling progname progress projection projection1
prolog prometheus promisc promote promoted prompt pronet properties property proplist proplists
props protect protected protection proto protocol protocol2drv protocols providers proxy
proxy-authenticate proxy-authorization prune psap-address pset pseudo pseudolocals psk pspawn
ptr ptraverse public publish publish1 published publishers pup pupdate purge purge1 push pushf
put putenv pwd pwhereis pwrite pz q q1 q2 q3 q4 qcode qcon qcon1 qdata qdlist qfmterror qi qid
qistate qlc qlcmf qname qnode qpids qquote qr qref qry qs qstate qualified quantile query
question queue queue-leader-locator queue-master-locator queue-mode queue-version queue.bind
queue.declare queue.delete queue.purge queue.unbind queued queues quiet quit quorum quot quote
quoted r r18 r19 r20 r21 r22 r23 r24 r2f r4 ra rabbit rabbitmq raise ram ramv ran ranch rand
random range ranges ransi rates ratio raw rb rc4 rchr rcode rcvbuf rcvbufforce rcvctrlbuf
rcvlowat rcvtimeo rd rdm rdns rdp re reach reachable reaching read read2 readable reader readers
ready ready0 real realkeys realm rearr reason reassemble rebalance reboot rec rec2list recbuf
receive receiver reclength recompile recompile2 recompilep recompilep1 recompose recon
reconfigure reconnect record recorded records recover recover0 recovered recovering recovery
recurse recv recv0 recvdstaddr recverr recvfrom recvfrom0 recvhoplimit recvif recvloop recvmsg
recvopts recvorigdstaddr recvpktinfo recvtclass recvtos recvttl red redefine redeliver
redeliver0 redelivered redirect redraw reduce reductions ref refc refer reference referer refine
reformat refresh refused reg reg1 reg1p reg2 reg2p reg3 reg3p reg4 regex regexp regexpr register
registered registers registrar registry regname regs regular regulate regulated rehash reinit
reject reject-publish reject-publish-dlx rejected rel rel2fam rel2family relation relative
relatives relax relaxed relay relay1 release releases reliability reliable reload reloading
relop relprod relprod1 relprod2 rem remap remarked remote remove removed removing remsh rename
renamed renaming render renegotiate renegotiation reopen repair repaired repl replace replaceadd
replay replica replies reply report req req2 request requested requests requeue require required
requires rescan resend reserve reserved reset resize resolv resolve resolved resolver resource
response rest restart restarted restarting restore restr restrict restricted restriction result
results resumable resume resumed ret retain retainer retention retopts retransmit retry
retry-after return returns reuse reuseaddr reuseport rev reverse revert revive revjoin revoked
revpostorder revpreorder revsplit rewrite rex rf rfc rfc3164 rfc3339 rfc5424 rflat rfmergel
ribbon rid right rights rinsert ripemd160 rkeymerge rkeymergel rl rle rlock rmbcmt rmcbf rmerge
rmerge3 rmergel rohc role rollover root rootname rootname2 roots rootset rotate rotation round
route route1 row rows rp rpc rpcmulticallify rpo rr rs rsa rsadsi rsbcmt rsbcst rsh rspf rss
rstates rstr rsvp rthdr rtoinfo rufmergel rukeymerge rukeymergel rukmerge rules rumerge rumerge3
rumergel run runnable runner running runnning runopt runtime rv rvrs rwlock s s1 s2 s3 sac safe
safesend same sample sanitize sansi sappend sasl save save2 saved sbcast sbcs sbct sbmbcs scale
scan scan1 scanner schedule scheduler schedulers schema schema2bup scheme scientific scope
scratch scratches script script2boot sctp sd search sec second secondary seconds secp112r1
secp112r2 secp128r1 secp128r2 secp160k1 secp160r1 secp160r2 secp192k1 secp192r1 secp224k1
secp224r1 secp256k1 secp256r1 secp384r1 secp521r1 secret secretp secs sect113r1 sect113r2
sect131r1 sect131r2 sect163k1 sect163r1 sect163r2 sect193r1 sect193r2 sect233k1 sect233r1
sect239k1 sect283k1 sect283r1 sect409k1 sect409r1 sect571k1 sect571r1 sections secure securing
see seealso seed seed0 seed58 seed64 seek seen segment segments segref select selected selector
self semantics semver send sender senders sendfile sendmsg sendsrcaddr sendto sensitive sent sep
separate separators seq seq2 seqpacket sequence sequences sequential serial serious server
server1 servers servfail service servicename services seshat session sessions set set0 setcookie
setelement setfib setfun setify setnode setopt setopts setorbag setpeername sets setsockname
setting settings settle settled setup severity sha sha1 sha224 sha256 sha384 sha512 shadow share
shebang sheet shell shift shim6 short shortcut shorter shortest shortnames shortstr should show
shuffle shutdown sifaddr sifbrdaddr sifdstaddr sifflags sifmtu sifnetmask siftxqlen sigabrt
sigalrm sigchld sighup sigill sigint sign signal signals signature signatures signbit signed
signedint signedness significant sigquit sigsegv sigstop sigterm sigtstp sigusr1 sigusr2 silent
simple simplex simplify sin since single singlequote singleton sinh sip sips size sizeof skip
skipper sl slave slaves sleep sleeping slen slice slim slist slog slot slots2 slow small
smallest smax smbcs sms sname snapshot snd sndbuf sndbufforce sndctrlbuf sndlowat sndtimeo sni
snifs snmp snmpc snmpify snoc soa sock sockaddr sockaddrs socket sockets sockname socknames sofs
soft solaris some sort sorting sote source sourceaddr space spaces spacetab span sparkplug spath
spawn spawned spcs spec specattr specdiffs special specific specification specified specs speed
spf splice split split1 split2 splitat splitline splitlist splitnode splitter splitwith sqrt
square srch srp srv ssalint ssl sslsocket sslv2 sslv3 st stability stable stack stacktrace stale
standalone standard staple stapled star start started starting startp starts-with startup stat
stat2stat state state2file state2list stateful stateless statements statename states static
staticarp statistics stats stats0 stats2print stats2record stats2stats status statuscode std
stderr stdio stdlib stdout steal step stick sticky stop stopaction stopped stopping storage
store str strategy stream stream-max-segment-size-bytes stream.cancel stream.consume
stream.deliver stream.publish stream.qos stream.return street-address strict string
string-length string1 stringify stringify1 strings strip strip0 stripdot stripfirst strlen
strong strwidth sub subdir subdirs subexpr subgraph subject sublist submit subscribe subscribers
subset subst substitute substitution substr substr1 substr2 substring substring-after
substring-before substrings-match subterms subtract subtrees succ succeeded success successful
successors suffix suffixes suitable suite suites sum summary sunify sunos sunos4 sunrm super
superseded supervisor supervisor2 supervisors supname supported supports suppressed surrogate
suspend suspended suspending susv3 swap swapped switch switched symbol symbolify symbols
symbols1 symdiff symdiff1 symdiff2 symlink sympart sympart1 sympart2 sync synced syncer syncing
syncnt sys sysctl sysinfo syslog system systemd systools t t0q t1 t2b t2s tab tab2dat tab2dcd
tab2dcl tab2dmp tab2file tab2filename tab2list tab2logtmp tab2retainer tab2tmp tabdef table
table1 tables tabs tag tag2atag tagdef taglist tags tail take takeover takewhile tan tanh target
targs tc tclass tcmp tcp te teletex teletex-common-name teletex-organization-name
teletex-personal-name telex temp tempfile template temporary tentative term term2list
term2string termify terminal-type terminate terminated terminating terms terms2bins test
test.content test.integer test.string test.table test1 test3844zty testing text tg tg0 tgd th
the thin this thread threads thresholds throttle throughput throw thrown tick ticker ticket
ticktime tid tidstore time time2us timed timeout timeouts timer timers times timestamp
timestamps title titlecase tl tls tlsv1 tlsv1.1 tlsv1.2 tlsv1.3 tlvs tm tmlink tmp tmpdir tmpid
to today todo tok2 tok3 token tokenize tokens tokens1 tolower tools tooshort top topic topsort
tos total totals tp tpack tpbasis tpkt tpl tr trace traced tracer tracing trackers tracking
trailer trailing trans transaction transactional transactions transcode transfer
transfer-encoding transform transformed transient translate translate1 translation translations
transparent transport traverse tree treq treshold tries trigger trim trimnl trimnlnl true trunc
truncate truncated try trytag ts tspec tsub tsubst tt ttl tty tuning tunnel tunnel.request
tunnel6 tuple tuple2cons tuple2list tversion two-prime tx tx.commit tx.rollback tx.select txqlen
txstatus txt txtime type type2hatype typeattr typed typeflag typeinfo types u ub-common-name
ub-common-name-printable ub-common-name-teletex ub-common-name-universal ub-common-name-utf8
ub-country-name-alpha-length ub-country-name-numeric-length ub-domain-defined-attributes
ub-domain-name-length ub-e163-4-number-length ub-e163-4-sub-address-length
ub-emailaddress-length ub-extension-attributes ub-generation-qualifier-length
ub-given-name-length ub-initials-length ub-integer-options ub-locality-name
ub-locality-name-universal ub-locality-name-utf8 ub-match ub-name ub-name-printable
ub-name-teletex ub-name-universal ub-name-utf8 ub-numeric-user-id-length ub-organization-name
ub-organization-name-printable ub-organization-name-teletex ub-organization-name-universal
ub-organization-name-utf8 ub-organizational-unit-name ub-organizational-unit-name-utf8
ub-organizational-units ub-pds-name-length ub-pds-parameter-length ub-pds-physical-address-lines
ub-postal-code-length ub-pseudonym ub-pseudonym-universal ub-pseudonym-utf8 ub-serial-number
ub-state-name ub-state-name-universal ub-state-name-utf8 ub-surname-length ub-terminal-id-length
ub-title ub-title-printable ub-title-teletex ub-title-universal ub-title-utf8
ub-unformatted-address-length ub-x121-address-length ubinarify ubody ubyte uc uc3 uc4 ucache
ucache3 uclause uclauses ucmerge ucompile ucp ucs udp udplite uescape uexpr uexprs ufmergel
uguard ui uid uinfo uint uint16 uint24 uint32 uint8 ukeymerge ukeymergel ukeysort ukmerge ul
ulbl ulimit ulistify ulong umatch umerge umerge3 umergel unalias unapplied unassigned
unauthorized unavailable unblock unblocked unbound unbounded unbuffered unchanged unclassified
unclear uncompress unconfirmed uncontrolled undec undecided undeclared undef undefined
undelivered underline underscore underspecs undetermined unescape unexpected unfold unforce
unformatted-postal-address ungreedy unhandled unhex unhexdigit unhitch unicode uniconv uniform
unify unimplemented unindent uninitialized union union1 uniq uniq1 unique unique-postal-name
unit universal universaltime unix unknown unless unlimited unlink unload unloaded unlock
unmarked unmodified unmonitor unnamed unordered unpack unpacked unpacking unpad unparseable
unparsed unput unqualified unquote unquoted unreachable unread unreadable unrecv unregister
unreserved unresolved unresponsive unrevoked unsafe unscan unscannable unselect unset unsetenv
unsetify unsettled unsigned unsignedbyte unsignedint unsignedshort unsorted unspec unspecified
unstick unsubscribe unsuitable unsupported unterminated until unused unwrap unz unz1 unzip
unzip3 up upattern upcase update updated updates updating upgrade upify upify2 upmap upper
uppercase uptime upto uptodot uri url urlencode urlsplit urlunsplit urun urun2 us us-ascii usage
use usec usecs used user user-agent userinfo username users userstate uses usevc ushort usort
usr utc utf utf-16 utf-16be utf-16le utf-8 utf16 utf32 utf8 util utilisation uucp uuid v v1 v1-0
v2 v3 v6only val valid validate validate1 validate2 validate3 validation validation0 validator
validators validity vals value value0 values vanilla vann var var2const variable variables
variadic variety vars vary vcore ver verbose verbosity verified verify version versions vertex
vertical vertices ves vformat vhost vhost-limits vhosts vi via videotex view visible visit vmtp
void volumerelative votes vqstate vrrp vsn vst vtmerge vtnew vtold vtsubtract vtunsafe vtupdate
vvars w wait waiting wal wal2list wallclock want wanted warn warning warnings was watchdog weak
weak1 weak2 week werror wesp what when where whereis which while white whitespace whoami wide
width wild wildcard win32 win32reg window windows wins wipe with without withsocket wks wlock
wloop word words wordsize wordtable work workdir worker workers working worklist world wrap
wrapper wread writable write write1 writer writers writes written ws wsasl wstate wstates wtls1
wtls10 wtls11 wtls12 wtls3 wtls4 wtls5 wtls6 wtls7 wtls8 wtls9 wwanpp wwanpp2 www-authenticate x
x121-dcc-code x25519 x448 x86 xlate xm xmerl xml xmlbase xmlns xns-idp xor xpath xref xrefr
xsdbase xset xslapply xtp y yahoo yank ycs year years yecc yeccerror yeccpars0 yeccpars1
yeccpars2 yecctoken2string yecctoken2string1 yellow yes yield yp yregs z zero zerocopy zf zip
zip3 zipwith zipwith3 zlib zwj
"""
_ATOMS = frozenset(_WORDS.split())


def is_atom(name: str) -> bool:
    """Whether ``name`` is an atom in a RabbitMQ node (so ``list_to_existing_atom`` works)."""
    return not name or name in _ATOMS  # '' is an atom too
