//! What a create says when the object it would make already exists but is not in state.
//!
//! Between a write and Terraform saving its result there is always a window: a provider killed
//! there (kill -9, OOM, a lost machine) leaves an object that no state knows. Create never
//! adopts it silently; it names the exact import id and spells out both ways to import it, so
//! bringing the object back under management is a copy and paste.

/// The paragraph telling how to import the existing object `id` of `type_name`. The resource's
/// address is not known to the provider; Terraform prints it above the message (`with …`).
pub fn how_to_import(type_name: &str, id: &str) -> String {
    format!(
        "If an earlier apply wrote it (one interrupted before it could save state, for example), \
         import it with the id {id:?}: add this block with `to` set to this resource's address \
         (shown above) and apply again,\n\n  import {{\n    to = {type_name}.<name>\n    id = {hcl}\n  }}\n\n\
         or run\n\n  terraform import '{type_name}.<name>' {shell}\n",
        hcl = hcl_string(id),
        shell = shell_word(id),
    )
}

/// `text` as an HCL string literal: quotes and backslashes escaped, template sequences doubled.
fn hcl_string(text: &str) -> String {
    let escaped =
        text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace("${", "$${").replace("%{", "%%{");
    format!("\"{escaped}\"")
}

/// `text` as one POSIX shell word, in single quotes.
fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_block_and_command_carry_the_exact_id() {
        let text = how_to_import("gitopsbridge_cluster_metadata", "argocd/eks-green");
        assert!(
            text.contains(
                "  import {\n    to = gitopsbridge_cluster_metadata.<name>\n    id = \"argocd/eks-green\"\n  }"
            ),
            "{text}"
        );
        assert!(
            text.contains("  terraform import 'gitopsbridge_cluster_metadata.<name>' 'argocd/eks-green'"),
            "{text}"
        );
    }

    #[test]
    fn ids_are_quoted_for_hcl_and_the_shell() {
        for (id, hcl, shell) in [
            ("Z1_a.example.com_TXT_it's", r#""Z1_a.example.com_TXT_it's""#, r"'Z1_a.example.com_TXT_it'\''s'"),
            (r#"Z1_a.example.com_A_"q"\"#, r#""Z1_a.example.com_A_\"q\"\\""#, r#"'Z1_a.example.com_A_"q"\'"#),
            ("Z1_a.example.com_A_${x}%{y}", r#""Z1_a.example.com_A_$${x}%%{y}""#, "'Z1_a.example.com_A_${x}%{y}'"),
        ] {
            assert_eq!(hcl_string(id), hcl);
            assert_eq!(shell_word(id), shell);
        }
    }
}
