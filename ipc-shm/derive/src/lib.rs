//! `#[derive(Shareable)]` for `multiproc-shm`: implements the `unsafe trait Shareable` for a
//! `#[repr(C)]` struct after checking at compile time what the trait's contract asks, so that
//! no `unsafe impl` is written by hand. Use it through `multiproc_shm::Shareable` (the derive
//! and the trait share the name, as serde's do), whose docs show it at work.
//!
//! You do not need to depend on this crate: `multiproc-shm` re-exports the derive behind its
//! default feature `derive`. If you do depend on it directly, the generated code still needs
//! `multiproc-shm`:
//!
//! ```toml
//! [dependencies]
//! multiproc-shm-derive = "0.1"
//! multiproc-shm = { version = "0.1", default-features = false }
//! ```
//!
//! # What is checked
//!
//! | the trait's contract asks | checked by |
//! |---|---|
//! | one layout everywhere: `#[repr(C)]` or `#[repr(transparent)]` | the derive: anything else (no `repr`, `repr(Rust)`, `repr(packed)` alone) is refused |
//! | a struct (enums and unions have values that not every byte pattern is) | the derive |
//! | every field `Shareable` (so: no pointers, references, heap data, descriptors; zero and any bytes a value) | the compiler: a bound on each field's type |
//! | alignment at most 64 | a compile-time assertion |
//! | `Send + Sync + 'static` | the trait's supertraits; no lifetime parameters (refused) |
//! | no `Drop` that matters | a compile-time assertion that the type has no drop glue |
//! | a field whose bytes need fixing on a read (`bool`) | handled: the derived `normalize` fixes each field in place |
//!
//! Padding between fields is allowed by the contract (it is copied, never read as a value), so
//! it is not refused. A struct with no fields is refused: it has nothing to share.
//!
//! For a generic struct the bounds go on the impl (`where FieldType: Shareable`), and the
//! alignment and drop-glue assertions run when the crate first reads such a value.
//!
//! # Options
//!
//! `#[shareable(crate = path)]` names where `multiproc-shm` is (default `::multiproc_shm`); a
//! program that depends on the umbrella crate `multiproc` alone writes
//! `#[shareable(crate = multiproc::shm)]`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input};

/// Implements `multiproc_shm::Shareable` for a `#[repr(C)]` (or `#[repr(transparent)]`)
/// struct whose fields are all `Shareable`, after checking the rest of the trait's contract
/// at compile time. See the crate docs for what is checked, and `multiproc_shm::Shareable`
/// for the contract.
#[proc_macro_derive(Shareable, attributes(shareable))]
pub fn derive_shareable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let krate = crate_path(input)?;
    let fields = struct_fields(input)?;
    check_repr(input)?;
    if let Some(lt) = input.generics.lifetimes().next() {
        return Err(syn::Error::new(
            lt.span(),
            "#[derive(Shareable)]: a type with a lifetime parameter borrows memory local to one \
             process, and cannot live in shared memory",
        ));
    }
    let name = &input.ident;
    let generic = input.generics.type_params().next().is_some()
        || input.generics.const_params().next().is_some();
    let types: Vec<&syn::Type> = fields.iter().map(|f| &f.ty).collect();
    let members: Vec<syn::Member> = fields.members().collect();

    // Each field's type is named with its own span, so a field that is not Shareable is
    // reported at that field.
    let normalize_flags = types.iter().map(|ty| {
        quote_spanned! {ty.span()=> || <#ty as #krate::Shareable>::NORMALIZE }
    });
    let normalize_calls = types.iter().zip(&members).map(|(ty, m)| {
        quote_spanned! {ty.span()=>
            if <#ty as #krate::Shareable>::NORMALIZE {
                // SAFETY: the field lies inside the value's bytes, which the caller vouches
                // for; `normalize` only fixes bytes in place.
                unsafe {
                    <#ty as #krate::Shareable>::normalize(
                        p.add(::core::mem::offset_of!(Self, #m)),
                    )
                }
            }
        }
    });
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut where_clause = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    if generic {
        for ty in &types {
            where_clause
                .predicates
                .push(syn::parse_quote!(#ty: #krate::Shareable));
        }
    }
    let (free_checks, const_checks) = if generic {
        (quote!(), layout_checks(name, quote!(Self)))
    } else {
        let checks = layout_checks(name, quote!(#name));
        (quote!(const _: () = { #checks };), quote!())
    };
    Ok(quote! {
        #free_checks

        // SAFETY: checked by #[derive(Shareable)]: #[repr(C)] or #[repr(transparent)], every
        // field Shareable, alignment at most 64, no drop glue, no lifetimes; fields whose bytes
        // need fixing are fixed by `normalize`.
        #[automatically_derived]
        unsafe impl #impl_generics #krate::Shareable for #name #ty_generics #where_clause {
            const NORMALIZE: bool = {
                #const_checks
                false #(#normalize_flags)*
            };

            unsafe fn normalize(p: *mut u8) {
                #(#normalize_calls)*
            }
        }
    })
}

/// The compile-time assertions on the alignment and drop glue of `ty` (the type's name outside
/// an impl, `Self` inside a generic one).
fn layout_checks(name: &syn::Ident, ty: TokenStream2) -> TokenStream2 {
    let align = LitStr::new(
        &format!(
            "#[derive(Shareable)]: `{name}` is aligned to more than 64 bytes, which shared memory \
             does not promise"
        ),
        Span::call_site(),
    );
    let drop = LitStr::new(
        &format!(
            "#[derive(Shareable)]: `{name}` has drop glue (it or a field implements Drop): values in shared \
             memory are copied bit for bit and never dropped"
        ),
        Span::call_site(),
    );
    quote! {
        ::core::assert!(::core::mem::align_of::<#ty>() <= 64, #align);
        ::core::assert!(!::core::mem::needs_drop::<#ty>(), #drop);
    }
}

/// The struct's fields; an error for enums, unions and structs without fields.
fn struct_fields(input: &DeriveInput) -> syn::Result<&Fields> {
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                "#[derive(Shareable)]: an enum cannot live in shared memory, since not every \
                 byte pattern is one of its values; use an integer field and convert",
            ));
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Shareable)] is for structs; a union needs an `unsafe impl Shareable` \
                 written by hand",
            ));
        }
    };
    if fields.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Shareable)]: a struct with no fields has nothing to share",
        ));
    }
    Ok(fields)
}

/// Refuses a struct without `#[repr(C)]` or `#[repr(transparent)]`.
fn check_repr(input: &DeriveInput) -> syn::Result<()> {
    let mut stable = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("C") || meta.path.is_ident("transparent") {
                stable = true;
            } else if meta.path.is_ident("packed") || meta.path.is_ident("align") {
                // `packed(N)` / `align(N)` modify a layout; they do not fix one by themselves.
                if meta.input.peek(syn::token::Paren) {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    content.parse::<syn::LitInt>()?;
                }
            } else {
                // repr(Rust), repr(u8), …: parse on; the C check below decides.
            }
            Ok(())
        })?;
    }
    if stable {
        return Ok(());
    }
    Err(syn::Error::new(
        input.ident.span(),
        "#[derive(Shareable)] needs #[repr(C)] (or #[repr(transparent)]): without it, Rust may \
         lay the fields out differently in two builds, and processes would disagree on them",
    ))
}

/// `#[shareable(crate = path)]`, default `::multiproc_shm`.
fn crate_path(input: &DeriveInput) -> syn::Result<syn::Path> {
    let mut krate = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("shareable"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                krate = Some(meta.value()?.parse::<syn::Path>()?);
                Ok(())
            } else {
                Err(meta.error("expected `crate = path`"))
            }
        })?;
    }
    Ok(krate.unwrap_or_else(|| syn::parse_quote!(::multiproc_shm)))
}
