package grpcdrv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/jhump/protoreflect/v2/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrUsage marks errors caused by bad user input (a method name that does
// not exist, request data that is not valid JSON for the message, a .proto
// file that does not compile). The CLI maps it to exit code 2.
var ErrUsage = errors.New("usage error")

// usageError is a bad-input error; its message is only the explanation
// (no "usage error:" prefix), and errors.Is(err, ErrUsage) holds.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Kind is the RPC kind of a method.
type Kind uint8

// RPC kinds.
const (
	Unary Kind = iota
	ServerStream
	ClientStream
	BidiStream
)

// String names the kind as the result file and errors do.
func (k Kind) String() string {
	switch k {
	case ServerStream:
		return "server-streaming"
	case ClientStream:
		return "client-streaming"
	case BidiStream:
		return "bidi-streaming"
	}
	return "unary"
}

func kindOf(md protoreflect.MethodDescriptor) Kind {
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		return BidiStream
	case md.IsStreamingClient():
		return ClientStream
	case md.IsStreamingServer():
		return ServerStream
	}
	return Unary
}

// ParseCall splits a method name into its service and method. It accepts
// "pkg.Service/Method" (grpcurl and ghz style), "/pkg.Service/Method" (the
// HTTP/2 path) and "pkg.Service.Method".
func ParseCall(call string) (service, method string, err error) {
	c := strings.TrimPrefix(strings.TrimSpace(call), "/")
	i := strings.LastIndexByte(c, '/')
	if i < 0 {
		i = strings.LastIndexByte(c, '.')
	}
	if i <= 0 || i == len(c)-1 {
		return "", "", usagef("--call %q is not pkg.Service/Method (for example loadrig.v1.ShopService/GetProduct)", call)
	}
	return c[:i], c[i+1:], nil
}

// findMethod looks the method up in a service descriptor, listing the
// service's methods when it is not there.
func findMethod(sd protoreflect.ServiceDescriptor, method string) (protoreflect.MethodDescriptor, error) {
	if md := sd.Methods().ByName(protoreflect.Name(method)); md != nil {
		return md, nil
	}
	var names []string
	for i := range sd.Methods().Len() {
		names = append(names, string(sd.FullName())+"/"+string(sd.Methods().Get(i).Name()))
	}
	return nil, usagef("unknown method %s/%s; available: %s", sd.FullName(), method, strings.Join(names, ", "))
}

func unknownService(service string, available []string) error {
	if len(available) == 0 {
		return usagef("unknown service %s; the server lists no services", service)
	}
	slices.Sort(available)
	return usagef("unknown service %s; available: %s", service, strings.Join(available, ", "))
}

// methodFromReflection resolves the method through the server's reflection
// service (v1, falling back to v1alpha).
func methodFromReflection(ctx context.Context, cc grpc.ClientConnInterface, service, method string) (protoreflect.MethodDescriptor, error) {
	rc := grpcreflect.NewClientAuto(ctx, cc)
	defer rc.Reset()
	fd, err := rc.FileContainingSymbol(protoreflect.FullName(service))
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return nil, usagef("the server does not offer reflection; describe the method with --proto file.proto (and --import-path)")
		}
		if grpcreflect.IsElementNotFoundError(err) {
			names, lerr := rc.ListServices()
			if lerr != nil {
				return nil, fmt.Errorf("reflection: %w", lerr)
			}
			var avail []string
			for _, n := range names {
				avail = append(avail, string(n))
			}
			return nil, unknownService(service, avail)
		}
		return nil, fmt.Errorf("reflection: %w", err)
	}
	sd := findService(fd, protoreflect.FullName(service))
	if sd == nil {
		return nil, fmt.Errorf("reflection: symbol %s is not a service", service)
	}
	return findMethod(sd, method)
}

func findService(fd protoreflect.FileDescriptor, name protoreflect.FullName) protoreflect.ServiceDescriptor {
	for i := range fd.Services().Len() {
		if sd := fd.Services().Get(i); sd.FullName() == name {
			return sd
		}
	}
	return nil
}

// methodFromProto compiles .proto files (with protocompile; the standard
// google/protobuf imports are built in) and resolves the method there. As in
// protoc and grpcurl, file names are relative to an import path; with no
// import path they are opened as given.
func methodFromProto(ctx context.Context, files, importPaths []string, service, method string) (protoreflect.MethodDescriptor, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: importPaths}),
	}
	compiled, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, usagef("compile %s: %v", strings.Join(files, ", "), err)
	}
	var avail []string
	for _, f := range compiled {
		if sd := findService(f, protoreflect.FullName(service)); sd != nil {
			return findMethod(sd, method)
		}
		for i := range f.Services().Len() {
			avail = append(avail, string(f.Services().Get(i).FullName()))
		}
	}
	return nil, unknownService(service, avail)
}
