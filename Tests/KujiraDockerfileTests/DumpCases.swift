// Dump cases: Dockerfiles and the s-expression dump BuildKit's parser prints for them
// (the `result` files of frontend/dockerfile/parser/testfiles, in the current ENV/LABEL
// triple form). Written for Kujira from the reference and BuildKit's rules.

struct DumpCase: CustomStringConvertible, Sendable {
    var name: String
    var dockerfile: String
    var dump: String
    var description: String { name }
}

let dumpCases: [DumpCase] = [
    DumpCase(name: "docker (continuations keep leading tabs)", dockerfile: """
        FROM ubuntu:14.04
        LABEL maintainer Tianon Gravi <admwiggin@gmail.com> (@tianon)
        RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -yq \\
        \tapt-utils \\
        \taufs-tools
        ENV PATH /usr/local/go/bin:$PATH
        VOLUME /var/lib/docker
        ENTRYPOINT ["hack/dind"]
        COPY . /go/src/github.com/docker/docker
        """, dump: """
        (from "ubuntu:14.04")
        (label "maintainer" "Tianon Gravi <admwiggin@gmail.com> (@tianon)" "")
        (run "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -yq \\tapt-utils \\taufs-tools")
        (env "PATH" "/usr/local/go/bin:$PATH" "")
        (volume "/var/lib/docker")
        (entrypoint "hack/dind")
        (copy "." "/go/src/github.com/docker/docker")

        """),
    DumpCase(name: "health", dockerfile: """
        FROM debian
        ADD check.sh main.sh /app/
        CMD /app/main.sh
        HEALTHCHECK
        HEALTHCHECK --interval=5s --timeout=3s --retries=3 \\
          CMD /app/check.sh --quiet
        HEALTHCHECK CMD
        HEALTHCHECK   CMD   a b
        HEALTHCHECK --timeout=3s CMD ["foo"]
        HEALTHCHECK CONNECT TCP 7000
        """, dump: """
        (from "debian")
        (add "check.sh" "main.sh" "/app/")
        (cmd "/app/main.sh")
        (healthcheck)
        (healthcheck ["--interval=5s" "--timeout=3s" "--retries=3"] "CMD" "/app/check.sh --quiet")
        (healthcheck "CMD")
        (healthcheck "CMD" "a b")
        (healthcheck ["--timeout=3s"] "CMD" "foo")
        (healthcheck "CONNECT" "TCP 7000")

        """),
    DumpCase(name: "env forms and quoting", dockerfile: #"""
        FROM ubuntu
        ENV name value
        ENV name=value
        ENV name=value name2=value2
        ENV name="value value1"
        ENV name=value\ value2
        ENV name="value'quote space'value2"
        ENV name='value"double quote"value2'
        ENV name=value\ value2 name2=value2\ value3
        ENV name="a\"b"
        ENV name="a\'b"
        ENV name='a\'b'
        ENV name='a\'b''
        ENV name='a\"b'
        ENV name="''"
        # the next instruction ends the file with a continuation
        ENV name=value \
            name1=value1 \
            name2="value2a \
                   value2b" \
            name3="value3a\n\"value3b\"" \
        	name4="value4a\\nvalue4b" \
        """#, dump: #"""
        (from "ubuntu")
        (env "name" "value" "")
        (env "name" "value" "=")
        (env "name" "value" "=" "name2" "value2" "=")
        (env "name" "\"value value1\"" "=")
        (env "name" "value\\ value2" "=")
        (env "name" "\"value'quote space'value2\"" "=")
        (env "name" "'value\"double quote\"value2'" "=")
        (env "name" "value\\ value2" "=" "name2" "value2\\ value3" "=")
        (env "name" "\"a\\\"b\"" "=")
        (env "name" "\"a\\'b\"" "=")
        (env "name" "'a\\'b'" "=")
        (env "name" "'a\\'b''" "=")
        (env "name" "'a\\\"b'" "=")
        (env "name" "\"''\"" "=")
        (env "name" "value" "=" "name1" "value1" "=" "name2" "\"value2a            value2b\"" "=" "name3" "\"value3a\\n\\\"value3b\\\"\"" "=" "name4" "\"value4a\\\\nvalue4b\"" "=")

        """#),
    DumpCase(name: "escape (continuations, blank and comment lines inside)", dockerfile: #"""
        FROM ubuntu:14.04
        RUN echo hello\
          world\
          goodnight  \
          moon\
          light\
        ning
        RUN echo hello  \
          world
        RUN echo hello  \
        world
        RUN echo hello \
        goodbye\
        frog
        RUN echo hello  \  
        world
        RUN echo hi \
         \
         world \
        \
         good\
        \
        night
        RUN echo goodbye\
        frog
        RUN echo good\
        bye\
        frog

        RUN echo hello \
        # this is a comment

        # this is a comment with a blank line surrounding it

        this is some more useful stuff
        """#, dump: """
        (from "ubuntu:14.04")
        (run "echo hello  world  goodnight    moon  lightning")
        (run "echo hello    world")
        (run "echo hello  world")
        (run "echo hello goodbyefrog")
        (run "echo hello  world")
        (run "echo hi   world  goodnight")
        (run "echo goodbyefrog")
        (run "echo goodbyefrog")
        (run "echo hello this is some more useful stuff")

        """),
    DumpCase(name: "escape directive after a comment is not a directive", dockerfile: #"""
        # Comment here. Should not be looking for the following parser directive.
        # escape = `

        FROM image
        LABEL maintainer foo@example.com
        ENV GOPATH \
        \go
        """#, dump: #"""
        (from "image")
        (label "maintainer" "foo@example.com" "")
        (env "GOPATH" "\\go" "")

        """#),
    DumpCase(name: "backtick escape directive", dockerfile: #"""
        # escape = `

        FROM image
        LABEL maintainer foo@example.com
        ENV GOPATH `
        \go
        RUN dir c:\windows `
            && echo done
        """#, dump: #"""
        (from "image")
        (label "maintainer" "foo@example.com" "")
        (env "GOPATH" "\\go" "")
        (run "dir c:\\windows     && echo done")

        """#),
    DumpCase(name: "json exec forms", dockerfile: #"""
        CMD []
        CMD [""]
        CMD ["a"]
        CMD ["a","b"]
        CMD [ "a", "b" ]
        CMD [	"a",	"b"	]
        CMD	[	"a",	"b"	]
        CMD ["abc 123", "♥", "☃", "\" \\ \/ \b \f \n \r \t \u0000"]
        """#, dump: #"""
        (cmd)
        (cmd "")
        (cmd "a")
        (cmd "a" "b")
        (cmd "a" "b")
        (cmd "a" "b")
        (cmd "a" "b")
        (cmd "abc 123" "♥" "☃" "\" \\ / \b \f \n \r \t \x00")

        """#),
    DumpCase(name: "invalid json falls back to shell form", dockerfile: #"""
        CMD [a, b]
        CMD ["a", "b"
        RUN ["a", "b"] extra
        ENTRYPOINT ['single', 'quotes']
        COPY [a b
        """#, dump: #"""
        (cmd "[a, b]")
        (cmd "[\"a\", \"b\"")
        (run "[\"a\", \"b\"] extra")
        (entrypoint "['single', 'quotes']")
        (copy "[a" "b")

        """#),
    DumpCase(name: "ADD and COPY with JSON", dockerfile: """
        FROM\tubuntu:14.04
        LABEL\tmaintainer\tSeongyeol Lim <seongyeol37@gmail.com>

        COPY\t.\t/go/src/github.com/docker/docker
        ADD\t\t.\t/
        ADD\t\tnull /
        COPY\tnullfile /tmp
        ADD\t\t[ "vimrc", "/tmp" ]
        COPY\t[ "bashrc", "/tmp" ]
        COPY\t[ "test file", "/tmp" ]
        ADD\t\t[ "test file", "/tmp/test file" ]
        """, dump: """
        (from "ubuntu:14.04")
        (label "maintainer" "Seongyeol Lim <seongyeol37@gmail.com>" "")
        (copy "." "/go/src/github.com/docker/docker")
        (add "." "/")
        (add "null" "/")
        (copy "nullfile" "/tmp")
        (add "vimrc" "/tmp")
        (copy "bashrc" "/tmp")
        (copy "test file" "/tmp")
        (add "test file" "/tmp/test file")

        """),
    DumpCase(name: "flags", dockerfile: """
        FROM scratch
        COPY foo /tmp/
        COPY --user=me foo /tmp/
        COPY --doit=true foo /tmp/
        COPY --user=me --doit=true foo /tmp/
        COPY --doit=true -- foo /tmp/
        COPY -- foo /tmp/
        CMD --doit [ "a", "b" ]
        CMD --doit=true -- [ "a", "b" ]
        CMD --doit -- [ ]
        RUN --mount="type=secret,id=a b" cat /run/secrets/a
        """, dump: """
        (from "scratch")
        (copy "foo" "/tmp/")
        (copy ["--user=me"] "foo" "/tmp/")
        (copy ["--doit=true"] "foo" "/tmp/")
        (copy ["--user=me" "--doit=true"] "foo" "/tmp/")
        (copy ["--doit=true"] "foo" "/tmp/")
        (copy "foo" "/tmp/")
        (cmd ["--doit"] "a" "b")
        (cmd ["--doit=true"] "a" "b")
        (cmd ["--doit"])
        (run ["--mount=type=secret,id=a b"] "cat /run/secrets/a")

        """),
    DumpCase(name: "maintainer, expose, entrypoint", dockerfile: """
        FROM ubuntu:14.04
        MAINTAINER James Turnbull "james@example.com"
        ENV REFRESHED_AT 2014-06-01
        RUN apt-get -y install redis-server redis-tools
        EXPOSE 6379
        EXPOSE 80/tcp  443/udp 8000-8010
        ENTRYPOINT [ "/usr/bin/redis-server" ]
        """, dump: """
        (from "ubuntu:14.04")
        (maintainer "James Turnbull \\"james@example.com\\"")
        (env "REFRESHED_AT" "2014-06-01" "")
        (run "apt-get -y install redis-server redis-tools")
        (expose "6379")
        (expose "80/tcp" "443/udp" "8000-8010")
        (entrypoint "/usr/bin/redis-server")

        """),
    DumpCase(name: "comments are not part of instructions", dockerfile: """
        # This is a comment
        FROM ubuntu
        # This is also a comment
        #  And this
          # indented comment
        RUN echo hi # no comment
        """, dump: """
        (from "ubuntu")
        (run "echo hi # no comment")

        """),
    DumpCase(name: "from forms", dockerfile: """
        FROM alpine
        FROM --platform=$BUILDPLATFORM golang:1.22 AS build
        FROM build as Final
        from scratch
        """, dump: """
        (from "alpine")
        (from ["--platform=$BUILDPLATFORM"] "golang:1.22" "AS" "build")
        (from "build" "as" "Final")
        (from "scratch")

        """),
    DumpCase(name: "arg forms", dockerfile: """
        ARG VERSION
        ARG BASE=alpine:3.19
        FROM $BASE
        ARG a b=c "d e"=f
        ARG empty=
        ARG q="quoted value"
        """, dump: """
        (arg "VERSION")
        (arg "BASE=alpine:3.19")
        (from "$BASE")
        (arg "a" "b=c" "\\"d e\\"=f")
        (arg "empty=")
        (arg "q=\\"quoted value\\"")

        """),
    DumpCase(name: "label forms", dockerfile: """
        FROM a
        LABEL version="1.0" description="a b" \\
              com.example.x=y
        LABEL "quoted key"=v
        LABEL multi.label1="value1" multi.label2="value2" other="value3"
        """, dump: """
        (from "a")
        (label "version" "\\"1.0\\"" "=" "description" "\\"a b\\"" "=" "com.example.x" "y" "=")
        (label "\\"quoted key\\"" "v" "=")
        (label "multi.label1" "\\"value1\\"" "=" "multi.label2" "\\"value2\\"" "=" "other" "\\"value3\\"" "=")

        """),
    DumpCase(name: "onbuild", dockerfile: """
        FROM a
        ONBUILD RUN echo hi
        ONBUILD ADD . /app/src
        ONBUILD COPY --from=build /x /y
        ONBUILD CMD ["a"]
        onbuild run lower
        """, dump: """
        (from "a")
        (onbuild (run "echo hi"))
        (onbuild (add "." "/app/src"))
        (onbuild (copy ["--from=build"] "/x" "/y"))
        (onbuild (cmd "a"))
        (onbuild (run "lower"))

        """),
    DumpCase(name: "string instructions keep the whole rest", dockerfile: """
        FROM a
        USER  app:app
        WORKDIR /path with spaces
        STOPSIGNAL   SIGTERM
        SHELL ["/bin/bash", "-o", "pipefail", "-c"]
        VOLUME ["/data", "/logs"]
        VOLUME /a /b
        """, dump: """
        (from "a")
        (user "app:app")
        (workdir "/path with spaces")
        (stopsignal "SIGTERM")
        (shell "/bin/bash" "-o" "pipefail" "-c")
        (volume "/data" "/logs")
        (volume "/a" "/b")

        """),
    DumpCase(name: "unknown instruction keeps an empty argument", dockerfile: """
        FROM a
        FOO bar baz
        COPPY x y
        """, dump: """
        (from "a")
        (foo "")
        (coppy "")

        """),
    DumpCase(name: "heredocs are not in the dump", dockerfile: """
        FROM a
        RUN <<EOF
        echo hello
        EOF
        RUN <<-EOT bash
        \techo tabs
        \tEOT
        COPY <<one <<two /dest/
        1
        one
        2
        two
        RUN 3<<FD cat /proc/self/fd/3
        data
        FD
        RUN <<"EOF" echo 'quoted'
        $NOT_EXPANDED
        EOF
        """, dump: """
        (from "a")
        (run "<<EOF")
        (run "<<-EOT bash")
        (copy "<<one" "<<two" "/dest/")
        (run "3<<FD cat /proc/self/fd/3")
        (run "<<\\"EOF\\" echo 'quoted'")

        """),
    DumpCase(name: "CRLF line endings", dockerfile: "FROM a\r\nRUN echo \\\r\n  hi\r\nCMD [\"x\"]\r\n", dump: """
        (from "a")
        (run "echo   hi")
        (cmd "x")

        """),
    DumpCase(name: "UTF-8 BOM", dockerfile: "\u{FEFF}FROM a\nRUN b\n", dump: """
        (from "a")
        (run "b")

        """),
    DumpCase(name: "trailing escape at end of file", dockerfile: "FROM a\nRUN echo a \\", dump: """
        (from "a")
        (run "echo a")

        """),
    DumpCase(name: "an escaped escape at the end of a line does not continue it", dockerfile: "FROM a\nRUN echo a\\\\\nRUN b\n", dump: """
        (from "a")
        (run "echo a\\\\\\\\")
        (run "b")

        """),
    DumpCase(name: "non-printable and unicode quoting", dockerfile: "FROM a\nRUN echo \u{1}x ♥ \u{A0}y\n", dump: """
        (from "a")
        (run "echo \\x01x ♥ \\u00a0y")

        """),
    DumpCase(name: "keyword case kept, dumped lower", dockerfile: "From a\nrUn b\nCopy c d\n", dump: """
        (from "a")
        (run "b")
        (copy "c" "d")

        """),
    DumpCase(name: "run flags", dockerfile: """
        FROM a
        RUN --mount=type=cache,target=/root/.cache --network=none pip install x
        RUN --security=insecure --mount=type=secret,id=tok,env=TOKEN ./use
        RUN --mount=type=ssh git clone git@example.com:x
        """, dump: """
        (from "a")
        (run ["--mount=type=cache,target=/root/.cache" "--network=none"] "pip install x")
        (run ["--security=insecure" "--mount=type=secret,id=tok,env=TOKEN"] "./use")
        (run ["--mount=type=ssh"] "git clone git@example.com:x")

        """),
    DumpCase(name: "copy flags", dockerfile: """
        FROM a
        COPY --from=build --chown=app:app --chmod=0755 --link /out/bin /usr/bin/
        COPY --parents --exclude=*.md --exclude=tmp ./src/ /app/
        ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tgz /
        ADD --keep-git-dir=true --unpack=false git@github.com:x/y.git /y
        """, dump: """
        (from "a")
        (copy ["--from=build" "--chown=app:app" "--chmod=0755" "--link"] "/out/bin" "/usr/bin/")
        (copy ["--parents" "--exclude=*.md" "--exclude=tmp"] "./src/" "/app/")
        (add ["--checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"] "https://example.com/a.tgz" "/")
        (add ["--keep-git-dir=true" "--unpack=false"] "git@github.com:x/y.git" "/y")

        """),
    DumpCase(name: "directives", dockerfile: """
        # syntax=docker/dockerfile:1
        # check=skip=JSONArgsRecommended;error=true
        FROM a
        CMD run
        """, dump: """
        (from "a")
        (cmd "run")

        """),
    DumpCase(name: "empty continuation line", dockerfile: "FROM a\nRUN echo a \\\n\n  b\n", dump: """
        (from "a")
        (run "echo a   b")

        """),
]
