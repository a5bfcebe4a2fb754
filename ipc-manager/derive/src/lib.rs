//! The `#[shared]` attribute of `multiproc-manager`: put it on an `impl` block, and the type's
//! public methods can be called through a manager, from a typed proxy named `<Type>Proxy`.
//! Use it through `multiproc_manager::shared`, whose docs show it at work.
//!
//! You do not need to depend on this crate: `multiproc-manager` re-exports the attribute. If
//! you do depend on it directly (to name the macro crate yourself), the generated code still
//! needs `multiproc-manager`:
//!
//! ```toml
//! [dependencies]
//! multiproc-manager-derive = "0.1"
//! multiproc-manager = "0.1"
//! ```

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Token, Type, Visibility,
    parse_macro_input,
};

/// `#[shared]` or `#[shared(typeid = "name", crate = path)]`.
struct Options {
    typeid: Option<LitStr>,
    krate: Option<syn::Path>,
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut o = Options {
            typeid: None,
            krate: None,
        };
        while !input.is_empty() {
            let key: Ident = if input.peek(Token![crate]) {
                let k: Token![crate] = input.parse()?;
                Ident::new("crate", k.span)
            } else {
                input.parse()?
            };
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "typeid" => o.typeid = Some(input.parse()?),
                "crate" => o.krate = Some(input.parse()?),
                _ => return Err(syn::Error::new(key.span(), "expected `typeid` or `crate`")),
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(o)
    }
}

/// One exposed method.
struct Method {
    name: Ident,
    params: Vec<(Ident, Type)>,
    output: Type,
    /// `#[proxy]`: the method returns a new shared object; its proxy is returned.
    proxy: bool,
    /// The method's doc comment, for the proxy's method.
    docs: Vec<syn::Attribute>,
}

fn method_of(f: &mut ImplItemFn) -> syn::Result<Option<Method>> {
    if !matches!(f.vis, Visibility::Public(_)) {
        return Ok(None);
    }
    let before = f.attrs.len();
    f.attrs.retain(|a| !a.path().is_ident("proxy"));
    let proxy = f.attrs.len() != before;
    let mut params = Vec::new();
    let mut has_self = false;
    for input in &f.sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                if !matches!(r.kind, syn::ReceiverKind::Reference(..)) {
                    return Err(syn::Error::new(
                        r.span(),
                        "a shared method takes `&self` or `&mut self`",
                    ));
                }
                has_self = true;
            }
            FnArg::Typed(t) => {
                let Pat::Ident(id) = &*t.pat else {
                    return Err(syn::Error::new(
                        t.pat.span(),
                        "a shared method's parameters are plain names",
                    ));
                };
                if let Type::Reference(r) = &*t.ty {
                    return Err(syn::Error::new(
                        r.span(),
                        "a shared method takes its arguments by value (they arrive from another process)",
                    ));
                }
                params.push((id.ident.clone(), (*t.ty).clone()));
            }
        }
    }
    if !has_self {
        return Ok(None);
    }
    if !f.sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            f.sig.generics.span(),
            "a shared method cannot be generic",
        ));
    }
    let output = match &f.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    let docs = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    Ok(Some(Method {
        docs,
        name: f.sig.ident.clone(),
        params,
        output,
        proxy,
    }))
}

/// Serves the type's public `&self` / `&mut self` methods through a manager and writes its
/// typed proxy, `<Type>Proxy`, with the same methods returning `Result<_, Error>`.
///
/// Options: `typeid = "name"` (default: the type's name), `crate = path` (where
/// `multiproc_manager` is, default `::multiproc_manager`; a program that depends on the
/// umbrella crate `multiproc` alone writes `#[shared(crate = multiproc::manager)]`). A method
/// marked `#[proxy]` returns another shared type, served as a new object; its proxy method
/// returns that type's proxy.
///
/// A served method takes `&self` or `&mut self` and its arguments by value (serde types: they
/// arrive from another process); it may return any serde type, a `Result` included (the
/// proxy returns `Result<Result<T, E>, Error>`). Methods that are not `pub` are not served.
#[proc_macro_attribute]
pub fn shared(attr: TokenStream, item: TokenStream) -> TokenStream {
    let opts = parse_macro_input!(attr as Options);
    let mut imp = parse_macro_input!(item as ItemImpl);
    match expand(opts, &mut imp) {
        Ok(extra) => quote!(#imp #extra).into(),
        Err(e) => {
            let err = e.to_compile_error();
            quote!(#imp #err).into()
        }
    }
}

fn expand(opts: Options, imp: &mut ItemImpl) -> syn::Result<TokenStream2> {
    if imp.trait_.is_some() || !imp.generics.params.is_empty() {
        return Err(syn::Error::new(
            imp.span(),
            "#[shared] goes on an inherent impl of a type without generics",
        ));
    }
    let Type::Path(tp) = &*imp.self_ty else {
        return Err(syn::Error::new(
            imp.self_ty.span(),
            "#[shared] needs a named type",
        ));
    };
    let ty_ident = tp
        .path
        .segments
        .last()
        .map(|s| s.ident.clone())
        .ok_or_else(|| syn::Error::new(tp.span(), "#[shared] needs a named type"))?;
    let self_ty = imp.self_ty.clone();
    let krate: syn::Path = opts
        .krate
        .unwrap_or_else(|| syn::parse_quote!(::multiproc_manager));
    let typeid = opts
        .typeid
        .unwrap_or_else(|| LitStr::new(&ty_ident.to_string(), Span::call_site()));
    let proxy = format_ident!("{}Proxy", ty_ident);

    let mut methods = Vec::new();
    for item in &mut imp.items {
        if let ImplItem::Fn(f) = item
            && let Some(m) = method_of(f)?
        {
            methods.push(m);
        }
    }

    let names: Vec<String> = methods.iter().map(|m| m.name.to_string()).collect();
    let m2t = methods.iter().filter(|m| m.proxy).map(|m| {
        let n = m.name.to_string();
        let out = &m.output;
        quote!((#n, <#out as #krate::SharedObject>::TYPEID))
    });
    let arms = methods.iter().map(|m| {
        let name = &m.name;
        let n = name.to_string();
        let count = m.params.len();
        let takes = m.params.iter().enumerate().map(|(i, (p, t))| {
            let ps = p.to_string();
            quote!(let #p: #t = args.take(#i, #ps)?;)
        });
        let call_args = m.params.iter().map(|(p, _)| p);
        let ret = if m.proxy {
            quote!(#krate::__private::ret_object(out))
        } else {
            quote!(#krate::__private::ret(&out))
        };
        quote! {
            #n => {
                #(#takes)*
                args.done(#count)?;
                let out = self.#name(#(#call_args),*);
                #ret
            }
        }
    });
    let proxy_methods = methods.iter().map(|m| {
        let name = &m.name;
        let n = name.to_string();
        let params = m.params.iter().map(|(p, t)| quote!(#p: #t));
        let args = m.params.iter().map(|(p, _)| quote!(#krate::__private::arg(&#p)?));
        let out = &m.output;
        let doc = format!("Calls `{n}` on the shared object.");
        let docs = if m.docs.is_empty() {
            quote!(#[doc = #doc])
        } else {
            let d = &m.docs;
            quote!(#(#d)*)
        };
        if m.proxy {
            quote! {
                #docs
                pub fn #name(&self, #(#params),*) -> ::std::result::Result<<#out as #krate::SharedObject>::Proxy, #krate::Error> {
                    self.0.call_proxy(#n, ::std::vec![#(#args),*])
                }
            }
        } else {
            quote! {
                #docs
                pub fn #name(&self, #(#params),*) -> ::std::result::Result<#out, #krate::Error> {
                    self.0.call(#n, ::std::vec![#(#args),*])
                }
            }
        }
    });
    let proxy_doc =
        format!("A proxy to a `{ty_ident}` served by a manager (written by `#[shared]`).");

    Ok(quote! {
        impl #krate::SharedObject for #self_ty {
            const TYPEID: &'static str = #typeid;
            const EXPOSED: &'static [&'static str] = &[#(#names),*];
            const METHOD_TO_TYPEID: &'static [(&'static str, &'static str)] = &[#(#m2t),*];
            type Proxy = #proxy;

            fn __call(
                &mut self,
                method: &str,
                mut args: #krate::__private::MethodArgs,
            ) -> ::std::result::Result<#krate::__private::Outcome, #krate::__private::Raise> {
                match method {
                    #(#arms)*
                    _ => ::std::result::Result::Err(#krate::__private::no_method(#typeid, method)),
                }
            }
        }

        #[doc = #proxy_doc]
        #[derive(Clone, Debug)]
        pub struct #proxy(#krate::BaseProxy);

        impl #proxy {
            #(#proxy_methods)*

            /// The reference underneath (token, `repr`, a copy of the value).
            pub fn base_proxy(&self) -> &#krate::BaseProxy {
                &self.0
            }
        }

        impl #krate::Proxy for #proxy {
            fn from_base(base: #krate::BaseProxy) -> Self {
                #proxy(base)
            }
            fn base(&self) -> &#krate::BaseProxy {
                &self.0
            }
        }

        impl #krate::__private::serde::Serialize for #proxy {
            fn serialize<S: #krate::__private::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                #krate::__private::serde::Serialize::serialize(&self.0, s)
            }
        }

        impl<'de> #krate::__private::serde::Deserialize<'de> for #proxy {
            fn deserialize<D: #krate::__private::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                <#krate::BaseProxy as #krate::__private::serde::Deserialize>::deserialize(d).map(#proxy)
            }
        }
    })
}
